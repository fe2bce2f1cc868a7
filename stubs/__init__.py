"""Python code generated from protos/persistence_platform.proto by `make stubs`; do not edit."""

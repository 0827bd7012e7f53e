"""The VRS side of the link to J-LIS's Certificate Issuance Center (convenience-store kiosks):
its own ASGI app on its own listener, calling the shared issuance use case."""

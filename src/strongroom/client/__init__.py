"""strongroom's native PKCS#11 client module (``libstrongroom-client.so``): C sources and
their build-time table generator (gen_tables.py). See docs/client.md."""

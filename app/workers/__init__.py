"""Jobs shipped by this repository (loaders, connector); run as `python -m app.workers TARGET`."""

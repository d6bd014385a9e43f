"""Job launching: the JobLauncher port, its adapters (local, Kubernetes), target registry."""

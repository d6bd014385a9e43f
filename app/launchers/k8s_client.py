"""Build the kubernetes ApiClient: in-cluster service account first, else ~/.kube/config."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from app.errors import LauncherUnavailable


def api_client_from_environment(kubeconfig: Path | None = None) -> client.ApiClient:
    """The client the Deployment uses (its service account), or a developer's kubeconfig
    (KUBECONFIG, read when called: the library reads that variable only at import)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None,
                client_configuration=configuration,
            )
        except (ConfigException, OSError) as error:
            raise LauncherUnavailable(f"no Kubernetes configuration found: {error}") from error
    return client.ApiClient(configuration)

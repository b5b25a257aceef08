"""The Pod Security Standards `restricted` profile (Kubernetes v1.32), as a check on pod specs.

What the API server's Pod Security admission enforces in the rankops namespaces
(pod-security.kubernetes.io/enforce: restricted), written out control by control from
https://kubernetes.io/docs/concepts/security/pod-security-standards/ (baseline + restricted),
so rendered manifests and the pods a KFP run creates can be checked without a cluster.
`restricted_violations(pod_spec)` returns one line per violated control, [] when admissible.
"""

from __future__ import annotations

from typing import Any

# restricted: only these volume types
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                   "projected", "secret"}
# baseline: the only sysctls a pod may set
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
VOLUME_FIELDS = {"name"}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]


def _baseline(pod: dict[str, Any], psc: dict[str, Any]) -> list[str]:
    out = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"host namespaces: {field} must not be true")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("HostProcess: pod windowsOptions.hostProcess must not be true")
    for v in pod.get("volumes", []):
        if "hostPath" in v:
            out.append(f"HostPath volumes: volume {v['name']} is a hostPath")
    for s in psc.get("sysctls", []):
        if s["name"] not in SAFE_SYSCTLS:
            out.append(f"sysctls: {s['name']} is not a safe sysctl")
    if (psc.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        out.append("SELinux: pod seLinuxOptions.type not allowed")
    if (psc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        out.append("AppArmor: pod appArmorProfile Unconfined")
    for c in _containers(pod):
        sc, name = c.get("securityContext") or {}, c["name"]
        if sc.get("privileged"):
            out.append(f"privileged: container {name}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"HostProcess: container {name}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            out.append(f"host ports: container {name}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"/proc mount type: container {name}")
        if (sc.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES or \
                {"user", "role"} & set(sc.get("seLinuxOptions") or {}):
            out.append(f"SELinux: container {name}")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            out.append(f"AppArmor: container {name} Unconfined")
    return out


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every `restricted` control `pod` (a PodSpec as a dict) violates; [] when admissible."""
    psc = pod.get("securityContext") or {}
    out = _baseline(pod, psc)
    for v in pod.get("volumes", []):
        kinds = set(v) - VOLUME_FIELDS
        if not kinds <= ALLOWED_VOLUMES:
            out.append(f"volume types: volume {v['name']} is {sorted(kinds - ALLOWED_VOLUMES)}")
    pod_non_root = psc.get("runAsNonRoot") is True
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        out.append(f"seccomp: pod profile {pod_seccomp}")
    if psc.get("runAsUser") == 0:
        out.append("running as non-root user: pod runAsUser 0")
    for c in _containers(pod):
        sc, name = c.get("securityContext") or {}, c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"privilege escalation: container {name} must set allowPrivilegeEscalation false")
        if sc.get("runAsNonRoot") is False or (not pod_non_root and sc.get("runAsNonRoot") is not True):
            out.append(f"running as non-root: container {name} needs runAsNonRoot true (pod or container)")
        if sc.get("runAsUser") == 0:
            out.append(f"running as non-root user: container {name} runAsUser 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if (seccomp is not None and seccomp not in SECCOMP_OK) or (seccomp is None and pod_seccomp is None):
            out.append(f"seccomp: container {name} needs RuntimeDefault or Localhost (pod or container)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"capabilities: container {name} must drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"capabilities: container {name} may add only NET_BIND_SERVICE")
    return out

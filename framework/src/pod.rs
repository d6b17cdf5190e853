//! Pods the `restricted` Pod Security Standard admits, which is the level test namespaces
//! enforce by default (see [`PodSecurity`](crate::namespace::PodSecurity)).
//!
//! [`restricted_pod`] starts a one-container pod with everything the level asks for: the pod runs
//! as non-root user 65534 (`nobody`) with the `RuntimeDefault` seccomp profile, and every
//! container runs without privilege escalation and with all capabilities dropped. [`restrict`]
//! fills the same fields into a pod spec written some other way, leaving alone whatever the spec
//! already says.
//!
//! ```
//! use kube_e2e::pod::restricted_pod;
//!
//! let pod = restricted_pod("sleeper", "busybox:1.37", ["sh", "-c", "exec sleep 3600"])
//!     .label("app", "sleeper")
//!     .env("MODE", "fast")
//!     .restart_policy("Never")
//!     .build();
//! let spec = pod.spec.unwrap();
//! assert_eq!(spec.security_context.unwrap().run_as_non_root, Some(true));
//! assert_eq!(spec.containers[0].name, "main");
//! ```

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, Pod, PodSecurityContext, PodSpec, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The user restricted pods run as unless told otherwise: `nobody`, which every image of the
/// catalogue has.
pub const NOBODY: i64 = 65534;

/// The name of the container [`restricted_pod`] creates.
pub const MAIN_CONTAINER: &str = "main";

/// Starts a pod named `name` with one container, `main`, running `command` in `image`, set up
/// for the `restricted` pod-security level. Finish it with [`PodBuilder::build`].
pub fn restricted_pod(
    name: impl Into<String>,
    image: impl Into<String>,
    command: impl IntoIterator<Item = impl Into<String>>,
) -> PodBuilder {
    let main = Container {
        name: MAIN_CONTAINER.into(),
        image: Some(image.into()),
        command: Some(command.into_iter().map(Into::into).collect()),
        ..Container::default()
    };
    PodBuilder {
        pod: Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![main],
                ..PodSpec::default()
            }),
            ..Pod::default()
        },
    }
}

/// A pod under construction; see [`restricted_pod`]. Container settings apply to the `main`
/// container.
#[derive(Clone, Debug)]
pub struct PodBuilder {
    pod: Pod,
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(PodSpec::default)
    }

    fn main(&mut self) -> &mut Container {
        &mut self.spec().containers[0]
    }

    /// Adds a label to the pod.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pod
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
        self
    }

    /// Binds the pod to node `name`, bypassing the scheduler.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.spec().node_name = Some(name.into());
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
        self
    }

    /// Sets `restartPolicy` (`Always`, `OnFailure` or `Never`); unset, the API server's
    /// default (`Always`) applies.
    pub fn restart_policy(mut self, policy: impl Into<String>) -> Self {
        self.spec().restart_policy = Some(policy.into());
        self
    }

    /// Runs the pod as user `uid` instead of [`NOBODY`].
    pub fn run_as_user(mut self, uid: i64) -> Self {
        self.spec()
            .security_context
            .get_or_insert_with(Default::default)
            .run_as_user = Some(uid);
        self
    }

    /// Replaces the command of the `main` container.
    pub fn command(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.main().command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the arguments of the `main` container.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.main().args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Adds an environment variable to the `main` container.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.main().env.get_or_insert_with(Vec::new).push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..EnvVar::default()
        });
        self
    }

    /// Adds `volume` to the pod and mounts it at `mount_path` in the `main` container.
    pub fn volume(mut self, volume: Volume, mount_path: impl Into<String>) -> Self {
        let mount = VolumeMount {
            name: volume.name.clone(),
            mount_path: mount_path.into(),
            ..VolumeMount::default()
        };
        self.spec()
            .volumes
            .get_or_insert_with(Vec::new)
            .push(volume);
        self.main()
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .push(mount);
        self
    }

    /// Adds another container; [`build`](Self::build) restricts it like `main`.
    pub fn container(mut self, container: Container) -> Self {
        self.spec().containers.push(container);
        self
    }

    /// Adds an init container; [`build`](Self::build) restricts it like `main`.
    pub fn init_container(mut self, container: Container) -> Self {
        self.spec()
            .init_containers
            .get_or_insert_with(Vec::new)
            .push(container);
        self
    }

    /// The pod, with the `restricted` settings filled in (see [`restrict`]).
    pub fn build(mut self) -> Pod {
        restrict(self.spec());
        self.pod
    }
}

impl From<PodBuilder> for Pod {
    fn from(builder: PodBuilder) -> Pod {
        builder.build()
    }
}

/// Fills in what the `restricted` pod-security level asks for where `spec` does not say
/// otherwise: `runAsNonRoot: true`, `runAsUser: 65534` and the `RuntimeDefault` seccomp profile
/// on the pod; `allowPrivilegeEscalation: false` and capabilities `drop: [ALL]` on every
/// container and init container.
pub fn restrict(spec: &mut PodSpec) {
    let pod = spec
        .security_context
        .get_or_insert_with(PodSecurityContext::default);
    pod.run_as_non_root.get_or_insert(true);
    pod.run_as_user.get_or_insert(NOBODY);
    pod.seccomp_profile.get_or_insert_with(|| SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    });
    let init = spec.init_containers.iter_mut().flatten();
    for container in init.chain(spec.containers.iter_mut()) {
        let sc = container
            .security_context
            .get_or_insert_with(SecurityContext::default);
        sc.allow_privilege_escalation.get_or_insert(false);
        sc.capabilities.get_or_insert_with(|| Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builder_writes_the_pod_the_suites_used_to_write_by_hand() {
        // The pod `framework/tests/fixtures/cluster_suite.rs` wrote out as JSON before.
        let by_hand: Pod = serde_json::from_value(json!({
            "metadata": {"name": "doomed"},
            "spec": {
                "securityContext": {"runAsNonRoot": true, "runAsUser": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "main",
                    "image": "busybox:1.37",
                    "command": ["sh", "-c", "echo fixture-log-line; exec sleep 3600"],
                    "env": [{"name": "API_TOKEN", "value": "token"}],
                    "securityContext": {"allowPrivilegeEscalation": false,
                                        "capabilities": {"drop": ["ALL"]}}
                }]
            }
        }))
        .unwrap();
        let built = restricted_pod(
            "doomed",
            "busybox:1.37",
            ["sh", "-c", "echo fixture-log-line; exec sleep 3600"],
        )
        .env("API_TOKEN", "token")
        .build();
        assert_eq!(
            serde_json::to_value(&built).unwrap(),
            serde_json::to_value(&by_hand).unwrap()
        );
    }

    #[test]
    fn restrict_keeps_what_the_spec_says() {
        let mut spec: PodSpec = serde_json::from_value(json!({
            "securityContext": {"runAsUser": 1001},
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "main", "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]
        }))
        .unwrap();
        restrict(&mut spec);
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({
                "securityContext": {"runAsNonRoot": true, "runAsUser": 1001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "initContainers": [{"name": "init", "securityContext": {
                    "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
                "containers": [{"name": "main", "securityContext": {
                    "allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_RAW"]}}}]
            })
        );
    }

    #[test]
    fn builder_settings_land_on_the_pod_and_main_container() {
        let pod = restricted_pod("p", "busybox", ["true"])
            .label("app", "p")
            .node_name("node-1")
            .node_selector("kubernetes.io/os", "linux")
            .restart_policy("Never")
            .run_as_user(1001)
            .args(["-x"])
            .volume(
                Volume {
                    name: "data".into(),
                    ..Volume::default()
                },
                "/data",
            )
            .init_container(Container {
                name: "setup".into(),
                ..Container::default()
            })
            .build();
        let value = serde_json::to_value(&pod).unwrap();
        assert_eq!(value["metadata"]["labels"], json!({"app": "p"}));
        let spec = &value["spec"];
        assert_eq!(spec["nodeName"], "node-1");
        assert_eq!(spec["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(spec["securityContext"]["runAsUser"], 1001);
        assert_eq!(spec["containers"][0]["args"], json!(["-x"]));
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"name": "data", "mountPath": "/data"}])
        );
        assert_eq!(
            spec["initContainers"][0]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
    }
}

//! `[sig-node]` conformance specs that run busybox pods on a real node: environment from
//! ConfigMaps, Secrets and the downward API, command and args, init containers, termination
//! messages, logs, restart policies and security contexts.

use crate::support::{
    logs, needs_real_node, object, one_shot, output_of, phase, pod, run_to_end, sh, terminated,
    wait_for_waiting_reason,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DeleteParams, PostParams};
use kube_e2e::prelude::*;
use serde_json::json;

async fn config_map(f: &Framework, name: &str, data: serde_json::Value) -> anyhow::Result<()> {
    let cm: ConfigMap = object(json!({"metadata": {"name": name}, "data": data}))?;
    f.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await?;
    Ok(())
}

async fn secret(f: &Framework, name: &str, data: serde_json::Value) -> anyhow::Result<()> {
    let s: Secret = object(json!({"metadata": {"name": name}, "stringData": data}))?;
    f.api::<Secret>().create(&PostParams::default(), &s).await?;
    Ok(())
}

fn lines(log: &str) -> Vec<String> {
    log.lines().map(str::to_string).collect()
}

fn pods(s: &mut Container) {
    s.it("should be submitted and removed", |cx| async move {
        let f = cx.framework()?;
        let pods = f.api::<Pod>();
        let p = pod(
            "submitted",
            json!({"containers": [sh(&f, "main", "exec sleep 3600")], "terminationGracePeriodSeconds": 1}),
        )?;
        cx.by("submitting the pod");
        pods.create(&PostParams::default(), &p).await?;
        let running = f.wait_for_pod_running("submitted").await?;
        ensure!(
            running.spec.and_then(|s| s.node_name).is_some(),
            "a running pod must be bound to a node"
        );
        cx.by("removing the pod");
        pods.delete("submitted", &DeleteParams::default()).await?;
        f.wait_for_deleted(&pods, "submitted").await?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Pods, submit and remove",
        description: "A submitted pod MUST be scheduled and run; after it is deleted it MUST disappear from the API.",
        release: "v1.9",
    });

    s.it("should write container output to the log", |cx| async move {
        let f = cx.framework()?;
        let script = "echo line one; echo line two; echo to-stderr >&2";
        let log = output_of(&cx, &f, &one_shot(&f, "logger", script)).await?;
        let out = lines(&log);
        // stdout and stderr are separate streams: their relative order is not defined.
        let stdout: Vec<&String> = out.iter().filter(|l| l.starts_with("line")).collect();
        expect(stdout).to_equal(vec!["line one", "line two"])?;
        expect(out).to(contain_element("to-stderr".to_string()))?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Pods, logs",
        description: "What a container writes to stdout and stderr MUST be readable through the pod's log subresource, each stream in order.",
        release: "v1.34",
    });

    s.it("should report the exit code of a failed container", |cx| async move {
        let f = cx.framework()?;
        let done = run_to_end(&cx, &f, &one_shot(&f, "failing", "exit 3")).await?;
        expect(phase(&done)).to_equal("Failed")?;
        let t = terminated(&done, "main").context("no terminated state")?;
        expect(t.exit_code).to_equal(3)?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Pods, failed container exit code",
        description: "A pod with restartPolicy Never whose container exits non-zero MUST end in phase Failed, reporting the exit code.",
        release: "v1.34",
    });
}

fn environment(s: &mut Container) {
    s.it(
        "should be consumable from a ConfigMap via environment variable",
        |cx| async move {
            let f = cx.framework()?;
            config_map(&f, "env-cm", json!({"data-1": "value-1"})).await?;
            let mut c = sh(&f, "main", "echo CONFIG_DATA_1=$CONFIG_DATA_1");
            c["env"] = json!([{"name": "CONFIG_DATA_1", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "data-1"}}}]);
            let p = pod("cm-env", json!({"restartPolicy": "Never", "containers": [c]}))?;
            expect(output_of(&cx, &f, &p).await?).to(contain_substring("CONFIG_DATA_1=value-1"))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, from environment field",
        description: "A container's environment variable taken from a ConfigMap key MUST hold the key's value.",
        release: "v1.9",
    });

    s.it(
        "should be consumable from a ConfigMap via envFrom with a prefix",
        |cx| async move {
            let f = cx.framework()?;
            config_map(&f, "envfrom-cm", json!({"data_1": "value-1", "data_2": "value-2"})).await?;
            let mut c = sh(&f, "main", "env | grep ^p_ | sort");
            c["envFrom"] = json!([{"prefix": "p_", "configMapRef": {"name": "envfrom-cm"}}]);
            let p = pod("cm-envfrom", json!({"restartPolicy": "Never", "containers": [c]}))?;
            expect(lines(&output_of(&cx, &f, &p).await?))
                .to_equal(vec!["p_data_1=value-1", "p_data_2=value-2"])?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, from environment variables",
        description: "envFrom with a ConfigMap and a prefix MUST expose every key as an environment variable named prefix plus key.",
        release: "v1.9",
    });

    s.it(
        "should be consumable from a Secret via environment variable",
        |cx| async move {
            let f = cx.framework()?;
            secret(&f, "env-secret", json!({"data-1": "value-1"})).await?;
            let mut c = sh(&f, "main", "echo SECRET_DATA=$SECRET_DATA");
            c["env"] = json!([{"name": "SECRET_DATA", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "data-1"}}}]);
            let p = pod("secret-env", json!({"restartPolicy": "Never", "containers": [c]}))?;
            expect(output_of(&cx, &f, &p).await?).to(contain_substring("SECRET_DATA=value-1"))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Secrets, pod environment field",
        description: "A container's environment variable taken from a Secret key MUST hold the decoded value.",
        release: "v1.9",
    });

    s.it(
        "should be consumable from a Secret via envFrom",
        |cx| async move {
            let f = cx.framework()?;
            secret(&f, "envfrom-secret", json!({"data_1": "value-1"})).await?;
            let mut c = sh(&f, "main", "env | grep ^s_ | sort");
            c["envFrom"] = json!([{"prefix": "s_", "secretRef": {"name": "envfrom-secret"}}]);
            let p = pod("secret-envfrom", json!({"restartPolicy": "Never", "containers": [c]}))?;
            expect(lines(&output_of(&cx, &f, &p).await?)).to_equal(vec!["s_data_1=value-1"])?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Secrets, pod environment from source",
        description: "envFrom with a Secret and a prefix MUST expose every key as an environment variable named prefix plus key.",
        release: "v1.9",
    });

    s.it(
        "should fail to start a container whose ConfigMap key is missing",
        |cx| async move {
            let f = cx.framework()?;
            let mut c = sh(&f, "main", "true");
            c["env"] = json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]);
            let p = pod("cm-missing", json!({"restartPolicy": "Never", "containers": [c]}))?;
            f.api::<Pod>().create(&PostParams::default(), &p).await?;
            wait_for_waiting_reason(&cx, &f, "cm-missing", "CreateContainerConfigError", "the container to wait with CreateContainerConfigError")
                .await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, missing key",
        description: "A container whose environment refers to a ConfigMap that does not exist MUST NOT start.",
        release: "v1.34",
    });

    s.it(
        "should expose pod name, namespace, IP, node and service account via the downward API",
        |cx| async move {
            let f = cx.framework()?;
            let field = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}});
            let mut c = sh(&f, "main", "echo name=$POD_NAME; echo ns=$POD_NAMESPACE; echo ip=$POD_IP; echo node=$NODE_NAME; echo sa=$SA; echo label=$LABEL");
            c["env"] = json!([
                field("POD_NAME", "metadata.name"),
                field("POD_NAMESPACE", "metadata.namespace"),
                field("POD_IP", "status.podIP"),
                field("NODE_NAME", "spec.nodeName"),
                field("SA", "spec.serviceAccountName"),
                field("LABEL", "metadata.labels['app']"),
            ]);
            let mut p = pod("downward", json!({"restartPolicy": "Never", "containers": [c]}))?;
            p.metadata.labels = Some([("app".to_string(), "downward".to_string())].into());
            let log = output_of(&cx, &f, &p).await?;
            let done = f.api::<Pod>().get("downward").await?;
            let ip = done.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
            let node = done.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
            expect(lines(&log)).to_equal(vec![
                "name=downward".to_string(),
                format!("ns={}", f.namespace()),
                format!("ip={ip}"),
                format!("node={node}"),
                "sa=default".to_string(),
                "label=downward".to_string(),
            ])?;
            ensure!(!ip.is_empty(), "the pod has no IP");
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "DownwardAPI, pod fields as environment",
        description: "Downward API environment variables MUST hold the pod's name, namespace, IP, node name, service account name and label values.",
        release: "v1.9",
    });

    s.it(
        "should expose container limits and requests via the downward API",
        |cx| async move {
            let f = cx.framework()?;
            let res = |name: &str, r: &str, div: &str| {
                json!({"name": name, "valueFrom": {"resourceFieldRef": {"containerName": "main", "resource": r, "divisor": div}}})
            };
            let mut c = sh(&f, "main", "echo cpu=$CPU_LIMIT mem=$MEMORY_LIMIT cpureq=$CPU_REQUEST memreq=$MEMORY_REQUEST");
            c["resources"] = json!({"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"cpu": "1250m", "memory": "64Mi"}});
            c["env"] = json!([
                res("CPU_LIMIT", "limits.cpu", "1m"),
                res("MEMORY_LIMIT", "limits.memory", "1Mi"),
                res("CPU_REQUEST", "requests.cpu", "1m"),
                res("MEMORY_REQUEST", "requests.memory", "1Mi"),
            ]);
            let p = pod("downward-res", json!({"restartPolicy": "Never", "containers": [c]}))?;
            expect(output_of(&cx, &f, &p).await?.trim())
                .to_equal("cpu=1250 mem=64 cpureq=250 memreq=32")?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "DownwardAPI, resource limits and requests",
        description: "Downward API environment variables MUST hold the container's CPU and memory limits and requests, scaled by the divisor.",
        release: "v1.9",
    });
}

fn containers(s: &mut Container) {
    s.it(
        "should use the image's defaults when command and args are not given",
        |cx| async move {
            let f = cx.framework()?;
            // The busybox image's default command is `sh`; with stdin closed it exits 0.
            let p = pod(
                "defaults",
                json!({"restartPolicy": "Never", "containers": [{"name": "main", "image": f.image(Image::Busybox)}]}),
            )?;
            let done = run_to_end(&cx, &f, &p).await?;
            expect(phase(&done)).to_equal("Succeeded")?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Containers, without command and arguments",
        description: "A container without command or args MUST run the image's default command.",
        release: "v1.9",
    });

    s.it("should override the image's command and args", |cx| async move {
        let f = cx.framework()?;
        let p = pod(
            "override",
            json!({"restartPolicy": "Never", "containers": [{
                "name": "main", "image": f.image(Image::Busybox),
                "command": ["echo"], "args": ["override", "arguments"]
            }]}),
        )?;
        expect(output_of(&cx, &f, &p).await?.trim()).to_equal("override arguments")?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Containers, with command and arguments",
        description: "A container's command and args MUST replace the image's entrypoint and command.",
        release: "v1.9",
    });

    s.it(
        "should substitute environment variables in command and args",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "expansion",
                json!({"restartPolicy": "Never", "containers": [{
                    "name": "main", "image": f.image(Image::Busybox),
                    "env": [{"name": "GREETING", "value": "hello"}, {"name": "WHO", "value": "$(GREETING) world"}],
                    "command": ["echo"], "args": ["$(WHO)", "$(MISSING)"]
                }]}),
            )?;
            expect(output_of(&cx, &f, &p).await?.trim()).to_equal("hello world $(MISSING)")?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Variable expansion, command and arguments",
        description: "$(VAR) references in env values, command and args MUST be replaced by the variable's value, and references to undefined variables MUST be left as written.",
        release: "v1.9",
    });

    s.it(
        "should run init containers in order before the app container",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "init-order",
                json!({
                    "restartPolicy": "Never",
                    "volumes": [{"name": "work", "emptyDir": {}}],
                    "initContainers": [
                        {"name": "init-1", "image": f.image(Image::Busybox), "command": ["sh", "-c", "echo first >> /work/order"], "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                        {"name": "init-2", "image": f.image(Image::Busybox), "command": ["sh", "-c", "echo second >> /work/order"], "volumeMounts": [{"name": "work", "mountPath": "/work"}]}
                    ],
                    "containers": [{"name": "main", "image": f.image(Image::Busybox), "command": ["sh", "-c", "echo main >> /work/order; cat /work/order"], "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]
                }),
            )?;
            let log = output_of(&cx, &f, &p).await?;
            expect(lines(&log)).to_equal(vec!["first", "second", "main"])?;
            let done = f.api::<Pod>().get("init-order").await?;
            let inits = done.status.and_then(|s| s.init_container_statuses).unwrap_or_default();
            expect(inits.iter().filter(|c| c.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0)).count())
                .to_equal(2)?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Init containers, run in order",
        description: "Init containers MUST run to completion one after another, in order, before the app containers start.",
        release: "v1.12",
    });

    s.it(
        "should not start the app container when an init container fails with restartPolicy Never",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "init-fails",
                json!({
                    "restartPolicy": "Never",
                    "initContainers": [sh(&f, "init", "exit 1")],
                    "containers": [sh(&f, "main", "echo must not run")]
                }),
            )?;
            let done = run_to_end(&cx, &f, &p).await?;
            expect(phase(&done)).to_equal("Failed")?;
            let main_started = done
                .status
                .and_then(|s| s.container_statuses)
                .unwrap_or_default()
                .iter()
                .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.as_ref().is_some_and(|t| t.exit_code == 0)));
            ensure!(!main_started, "the app container ran after a failed init container");
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Init containers, failure with restartPolicy Never",
        description: "When an init container of a pod with restartPolicy Never fails, the pod MUST fail and its app containers MUST NOT run.",
        release: "v1.12",
    });

    s.it(
        "should report a termination message written to the termination log",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "termmsg",
                json!({"restartPolicy": "Never", "containers": [sh(&f, "main", "printf DONE > /dev/termination-log")]}),
            )?;
            let done = run_to_end(&cx, &f, &p).await?;
            let t = terminated(&done, "main").context("no terminated state")?;
            expect((t.exit_code, t.message)).to_equal((0, Some("DONE".to_string())))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Container runtime, termination message from file",
        description: "What a container writes to its terminationMessagePath MUST be reported as the terminated state's message.",
        release: "v1.15",
    });

    s.it(
        "should report the log tail as termination message on failure with FallbackToLogsOnError",
        |cx| async move {
            let f = cx.framework()?;
            let mut c = sh(&f, "main", "echo from-the-log; exit 1");
            c["terminationMessagePolicy"] = json!("FallbackToLogsOnError");
            let p = pod("termmsg-logs", json!({"restartPolicy": "Never", "containers": [c]}))?;
            let done = run_to_end(&cx, &f, &p).await?;
            let t = terminated(&done, "main").context("no terminated state")?;
            expect((t.exit_code, t.message.map(|m| m.trim().to_string())))
                .to_equal((1, Some("from-the-log".to_string())))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Container runtime, termination message from log output",
        description: "With terminationMessagePolicy FallbackToLogsOnError and an empty termination log, a failed container's message MUST be the tail of its log.",
        release: "v1.15",
    });

    s.it(
        "should report no termination message on success with FallbackToLogsOnError",
        |cx| async move {
            let f = cx.framework()?;
            let mut c = sh(&f, "main", "echo only-in-the-log");
            c["terminationMessagePolicy"] = json!("FallbackToLogsOnError");
            let p = pod("termmsg-none", json!({"restartPolicy": "Never", "containers": [c]}))?;
            let done = run_to_end(&cx, &f, &p).await?;
            let t = terminated(&done, "main").context("no terminated state")?;
            expect((t.exit_code, t.message.unwrap_or_default())).to_equal((0, String::new()))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Container runtime, no termination message on success",
        description: "With FallbackToLogsOnError, a container that succeeds without writing its termination log MUST report an empty message.",
        release: "v1.15",
    });
}

fn restarts(s: &mut Container) {
    s.it(
        "should restart a failing container with restartPolicy OnFailure until it succeeds",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "onfailure",
                json!({
                    "restartPolicy": "OnFailure",
                    "volumes": [{"name": "state", "emptyDir": {}}],
                    "containers": [{
                        "name": "main", "image": f.image(Image::Busybox),
                        "command": ["sh", "-c", "if [ -e /state/ran ]; then echo second; exit 0; fi; touch /state/ran; exit 1"],
                        "volumeMounts": [{"name": "state", "mountPath": "/state"}]
                    }]
                }),
            )?;
            let log = output_of(&cx, &f, &p).await?;
            expect(log.trim()).to_equal("second")?;
            let done = f.api::<Pod>().get("onfailure").await?;
            let restarts = done
                .status
                .and_then(|s| s.container_statuses)
                .and_then(|c| c.first().map(|c| c.restart_count))
                .unwrap_or_default();
            expect(restarts).to_equal(1)?;
            Ok(())
        },
    )
    .timeout(Duration::from_secs(180))
    .conformance(ConformanceMeta {
        testname: "Pods, restartPolicy OnFailure",
        description: "A container of a pod with restartPolicy OnFailure that exits non-zero MUST be restarted, and the pod MUST succeed when the container later exits 0.",
        release: "v1.34",
    });

    s.it(
        "should not restart a failed container with restartPolicy Never",
        |cx| async move {
            let f = cx.framework()?;
            let done = run_to_end(&cx, &f, &one_shot(&f, "never", "exit 2")).await?;
            expect(phase(&done)).to_equal("Failed")?;
            consistently("the container to stay unrestarted", || async {
                let p = f.api::<Pod>().get("never").await?;
                let restarts = p
                    .status
                    .and_then(|s| s.container_statuses)
                    .and_then(|c| c.first().map(|c| c.restart_count))
                    .unwrap_or_default();
                ensure!(restarts == 0, "restartCount {restarts}");
                Ok(())
            })
            .duration(Duration::from_secs(3))
            .within(&cx)
            .await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Pods, restartPolicy Never",
        description: "A container of a pod with restartPolicy Never that exits non-zero MUST NOT be restarted, and the pod MUST be Failed.",
        release: "v1.34",
    });

    s.it(
        "should restart an exited container with restartPolicy Always",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "always",
                json!({"restartPolicy": "Always", "containers": [sh(&f, "main", "echo run; exit 0")]}),
            )?;
            f.api::<Pod>().create(&PostParams::default(), &p).await?;
            eventually("the container to be restarted", || async {
                let p = f.api::<Pod>().get("always").await?;
                let restarts = p
                    .status
                    .and_then(|s| s.container_statuses)
                    .and_then(|c| c.first().map(|c| c.restart_count))
                    .unwrap_or_default();
                ensure!(restarts >= 1, "restartCount {restarts}");
                Ok(())
            })
            .timeout(Duration::from_secs(90))
            .within(&cx)
            .await?;
            let log = logs(&f, "always", "main").await?;
            expect(log.trim()).to_equal("run")?;
            Ok(())
        },
    )
    .timeout(Duration::from_secs(180))
    .conformance(ConformanceMeta {
        testname: "Pods, restartPolicy Always",
        description: "A container of a pod with restartPolicy Always MUST be restarted after it exits, even with exit code 0.",
        release: "v1.34",
    });
}

fn security_context(s: &mut Container) {
    s.it(
        "should run a container with the runAsUser and runAsGroup given",
        |cx| async move {
            let f = cx.framework()?;
            let p = pod(
                "runas",
                json!({
                    "restartPolicy": "Never",
                    "securityContext": {"runAsUser": 1001, "runAsGroup": 2002},
                    "containers": [sh(&f, "main", "id -u; id -g")]
                }),
            )?;
            expect(lines(&output_of(&cx, &f, &p).await?)).to_equal(vec!["1001", "2002"])?;
            Ok(())
        },
    )
    .tag(Tag::LinuxOnly)
    .conformance(ConformanceMeta {
        testname: "Security Context, runAsUser and runAsGroup",
        description: "A container MUST run with the user and group IDs given by the pod's runAsUser and runAsGroup.",
        release: "v1.15, v1.21",
    });

    s.it(
        "should let a container's runAsUser override the pod's",
        |cx| async move {
            let f = cx.framework()?;
            let mut c = sh(&f, "main", "id -u");
            c["securityContext"] = json!({"runAsUser": 3003});
            let p = pod(
                "runas-override",
                json!({"restartPolicy": "Never", "securityContext": {"runAsUser": 1001}, "containers": [c]}),
            )?;
            expect(output_of(&cx, &f, &p).await?.trim()).to_equal("3003")?;
            Ok(())
        },
    )
    .tag(Tag::LinuxOnly)
    .conformance(ConformanceMeta {
        testname: "Security Context, container runAsUser overrides pod",
        description: "A container's runAsUser MUST take precedence over the pod's.",
        release: "v1.34",
    });

    s.it(
        "should not allow writes to a readOnlyRootFilesystem",
        |cx| async move {
            let f = cx.framework()?;
            let mut c = sh(&f, "main", "if touch /probe 2>/dev/null; then echo writable; else echo read-only; fi; touch /scratch/ok && echo scratch-writable");
            c["securityContext"] = json!({"readOnlyRootFilesystem": true});
            c["volumeMounts"] = json!([{"name": "scratch", "mountPath": "/scratch"}]);
            let p = pod(
                "readonly",
                json!({"restartPolicy": "Never", "volumes": [{"name": "scratch", "emptyDir": {}}], "containers": [c]}),
            )?;
            expect(lines(&output_of(&cx, &f, &p).await?))
                .to_equal(vec!["read-only", "scratch-writable"])?;
            Ok(())
        },
    )
    .tag(Tag::LinuxOnly)
    .conformance(ConformanceMeta {
        testname: "Security Context, readOnlyRootFilesystem",
        description: "A container with readOnlyRootFilesystem MUST NOT be able to write to its root filesystem, while its writable volumes stay writable.",
        release: "v1.15",
    });

    s.it(
        "should refuse to start a runAsNonRoot container whose image runs as root",
        |cx| async move {
            let f = cx.framework()?;
            // The image runs as root (uid 0) unless told otherwise; no runAsUser here.
            let p: Pod = object(json!({
                "metadata": {"name": "nonroot"},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "main", "image": f.image(Image::Busybox), "command": ["true"],
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
                    }]
                }
            }))?;
            f.api::<Pod>().create(&PostParams::default(), &p).await?;
            wait_for_waiting_reason(&cx, &f, "nonroot", "CreateContainerConfigError", "kubelet to refuse the root container")
                .await?;
            Ok(())
        },
    )
    .tag(Tag::LinuxOnly)
    .conformance(ConformanceMeta {
        testname: "Security Context, runAsNonRoot refuses root images",
        description: "A container with runAsNonRoot whose image would run as uid 0 MUST NOT be started.",
        release: "v1.34",
    });
}

/// Registers the `[sig-node]` pod specs.
pub fn specs(s: &mut Container) {
    s.tagged(sig("node"), |s| {
        s.describe("Pods", |s| {
            s.framework("pods");
            needs_real_node(s);
            pods(s);
        });
        s.describe("Pods environment", |s| {
            s.framework("pod-env");
            needs_real_node(s);
            environment(s);
        });
        s.describe("Containers", |s| {
            s.framework("containers");
            needs_real_node(s);
            containers(s);
        });
        s.describe("Restart policy", |s| {
            s.framework("restart");
            needs_real_node(s);
            restarts(s);
        });
        s.describe("Security Context", |s| {
            s.framework("security-context");
            needs_real_node(s);
            security_context(s);
        });
    });
}

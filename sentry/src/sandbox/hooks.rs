//! OCI hooks, run as runc runs them: by the runtime's command on the host (never in the
//! sandbox), each with the container's state as JSON on its stdin. `createRuntime` and the
//! older `prestart` run when `create` has set the sandbox up, and a failure fails `create`;
//! `poststart` after `start`, and `poststop` at `delete`, where a failure is a warning.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One hook of config.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub path: PathBuf,
    /// Its argv (argv[0] included), as the spec gives it.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
}

/// The hooks the sentry runs, by when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// `prestart` then `createRuntime`.
    pub create_runtime: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// Reads `hooks`; the kinds that run inside the container (`createContainer`,
/// `startContainer`) are refused, since nothing but the sandbox's program runs there.
pub fn parse(hooks: Option<&Value>) -> Result<Hooks, String> {
    let Some(hooks) = hooks.filter(|h| !h.is_null()) else {
        return Ok(Hooks::default());
    };
    let hooks = hooks
        .as_object()
        .ok_or("config.json: hooks must be an object")?;
    let mut out = Hooks::default();
    for (kind, list) in hooks {
        let parsed = list
            .as_array()
            .ok_or_else(|| format!("config.json: hooks.{kind} must be a list"))?
            .iter()
            .map(|h| hook(kind, h))
            .collect::<Result<Vec<_>, _>>()?;
        match kind.as_str() {
            "prestart" => {
                let later = std::mem::take(&mut out.create_runtime);
                out.create_runtime = parsed.into_iter().chain(later).collect();
            }
            "createRuntime" => out.create_runtime.extend(parsed),
            "poststart" => out.poststart = parsed,
            "poststop" => out.poststop = parsed,
            other if parsed.is_empty() => {
                let _ = other;
            }
            other => {
                return Err(format!(
                    "config.json: hooks.{other} is not supported by the sentry (nothing but \
                     the container's own program runs inside the sandbox)"
                ))
            }
        }
    }
    Ok(out)
}

fn hook(kind: &str, v: &Value) -> Result<Hook, String> {
    let what = |field: &str| format!("config.json: hooks.{kind}[].{field}");
    let path = v
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| format!("{} must be an absolute path", what("path")))?;
    let strings = |field: &str| -> Result<Vec<String>, String> {
        match v.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{} must be a list of strings", what(field))),
            Some(_) => Err(format!("{} must be a list of strings", what(field))),
        }
    };
    let args = strings("args")?;
    let env = strings("env")?
        .into_iter()
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{} entry '{e}' has no '='", what("env")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = match v.get("timeout") {
        None | Some(Value::Null) => None,
        Some(t) => match t.as_u64() {
            Some(secs) if secs > 0 => Some(Duration::from_secs(secs)),
            _ => return Err(format!("{} must be a positive integer", what("timeout"))),
        },
    };
    Ok(Hook {
        path: PathBuf::from(path),
        args,
        env,
        timeout,
    })
}

/// Runs `hooks` in order with `state` on their stdin; the first failure, as one line.
pub fn run(hooks: &[Hook], kind: &str, state: &Value) -> Result<(), String> {
    for hook in hooks {
        run_one(hook, state).map_err(|e| format!("{kind} hook {}: {e}", hook.path.display()))?;
    }
    Ok(())
}

/// Runs every one of `hooks`, whatever fails (poststart, poststop); the failures.
pub fn run_all(hooks: &[Hook], kind: &str, state: &Value) -> Vec<String> {
    hooks
        .iter()
        .filter_map(|hook| {
            run_one(hook, state)
                .err()
                .map(|e| format!("{kind} hook {}: {e}", hook.path.display()))
        })
        .collect()
}

fn run_one(hook: &Hook, state: &Value) -> Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some((first, rest)) = hook.args.split_first() {
        use std::os::unix::process::CommandExt;
        command.arg0(first).args(rest);
    }
    let mut child = command
        .env_clear()
        .envs(hook.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let deadline = hook.timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("failed ({status})"))
            };
        }
        match deadline {
            Some(deadline) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out".into());
            }
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
            None => {
                let status = child.wait().map_err(|e| e.to_string())?;
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("failed ({status})"))
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_read_in_runc_order() {
        let v: Value = serde_json::from_str(
            r#"{"createRuntime":[{"path":"/b"}],"prestart":[{"path":"/a","args":["a","x"],
                "env":["K=V"],"timeout":5}],"poststop":[{"path":"/c"}],"createContainer":[]}"#,
        )
        .unwrap();
        let hooks = parse(Some(&v)).unwrap();
        let paths: Vec<_> = hooks
            .create_runtime
            .iter()
            .map(|h| h.path.clone())
            .collect();
        assert_eq!(paths, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(hooks.create_runtime[0].env, [("K".into(), "V".into())]);
        assert_eq!(
            hooks.create_runtime[0].timeout,
            Some(Duration::from_secs(5))
        );
        assert_eq!(hooks.poststop.len(), 1);
    }

    #[test]
    fn in_container_hooks_and_bad_fields_are_refused() {
        for bad in [
            r#"{"startContainer":[{"path":"/a"}]}"#,
            r#"{"poststart":[{"path":"relative"}]}"#,
            r#"{"poststart":[{"path":"/a","timeout":0}]}"#,
            r#"{"poststart":[{"path":"/a","env":["NOEQUALS"]}]}"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(parse(Some(&v)).is_err(), "{bad}");
        }
    }

    #[test]
    fn hooks_get_the_state_and_their_status_counts() {
        let state = serde_json::json!({"id": "c1", "status": "created"});
        let out = std::env::temp_dir().join(format!("sentry-hook-{}", std::process::id()));
        let hook = Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), format!("cat > {}", out.display())],
            env: vec![],
            timeout: Some(Duration::from_secs(30)),
        };
        run(&[hook], "poststart", &state).unwrap();
        let seen: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(seen["id"], "c1");
        let _ = std::fs::remove_file(&out);
        let failing = Hook {
            path: "/bin/false".into(),
            args: vec![],
            env: vec![],
            timeout: None,
        };
        assert!(run(std::slice::from_ref(&failing), "createRuntime", &state).is_err());
        // poststart and poststop go on after a failure.
        let marker = std::env::temp_dir().join(format!("sentry-hook-after-{}", std::process::id()));
        let after = Hook {
            path: "/bin/sh".into(),
            args: vec![
                "sh".into(),
                "-c".into(),
                format!("touch {}", marker.display()),
            ],
            env: vec![],
            timeout: None,
        };
        assert_eq!(run_all(&[failing, after], "poststop", &state).len(), 1);
        assert!(marker.exists(), "the hook after a failing one did not run");
        let _ = std::fs::remove_file(&marker);
    }
}

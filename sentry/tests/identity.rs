//! Identity and privilege (issue 8): the sandbox holds no host privilege (checked from
//! outside, in /proc/<hostpid>/status), sees the identity `--sandbox-user` gives it, file
//! owners in its own ids, chown kept by the sentry, set-user-ID bits that raise nothing,
//! the sandbox user's permission checks, and the sentry's refusal of bad `--user` and
//! `--sandbox-user` values. Each test runs on both platforms.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Stdio;
use test_support::{is_root, Variant};

const PLATFORMS: [Variant; 2] = test_support::invoker_variants!();

/// A fresh directory (mode 755) under the tests' scratch directory.
fn scratch_dir(v: Variant, name: &str) -> PathBuf {
    let dir = v.scratch().join(format!(
        "identity-{name}-{}-{:?}",
        std::process::id(),
        v.platform
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
    dir
}

/// The value of `key:` in a /proc status text.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {key}: line in\n{status}"))
        .trim()
}

/// Point 1: from outside, every capability set of a sandboxed process is empty, it has
/// NO_NEW_PRIVS, and (the sentry running as root) it runs as the `--user` ids, 65534 by
/// default, while inside it still sees root.
#[test]
fn no_host_privilege_seen_from_outside() {
    if !is_root() {
        println!("skipped: the host uid switch needs the sentry to run as root");
        return;
    }
    for v in PLATFORMS {
        for (options, uid) in [(&[][..], 65534), (&["--user", "4321:4322"][..], 4321)] {
            let mut cmd = v.run_command(
                options,
                &[
                    "/bin/sh",
                    "-c",
                    "echo ready $(id -u) $(grep ^Uid: /proc/self/status); read x",
                ],
            );
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
            let mut sentry = cmd.spawn().expect("start the sentry");
            let mut out = BufReader::new(sentry.stdout.take().expect("stdout"));
            let mut line = String::new();
            out.read_line(&mut line).expect("read the ready line");
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[..3], ["ready", "0", "Uid:"], "inside: {line}");
            assert!(words[3..].iter().all(|w| *w == "0"), "inside: {line}");
            // The sandbox's first process: the sentry's child that is not its gofer.
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", sentry.id()))
                    .expect("read the sentry's children");
            let task = children
                .split_whitespace()
                .find(|pid| {
                    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"));
                    comm.unwrap_or_default() != "sentry-gofer\n"
                })
                .expect("the sandbox's first process")
                .to_string();
            let status = std::fs::read_to_string(format!("/proc/{task}/status"))
                .expect("read the task's host status");
            for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                assert_eq!(
                    status_field(&status, key),
                    "0000000000000000",
                    "{key} of the sandboxed process ({v:?})\n{status}"
                );
            }
            assert_eq!(status_field(&status, "NoNewPrivs"), "1");
            let want = format!("{uid}\t{uid}\t{uid}\t{uid}");
            assert_eq!(status_field(&status, "Uid"), want, "{v:?}\n{status}");
            let gid = uid + if uid == 65534 { 0 } else { 1 };
            let want = format!("{gid}\t{gid}\t{gid}\t{gid}");
            assert_eq!(status_field(&status, "Gid"), want, "{v:?}\n{status}");
            assert_eq!(status_field(&status, "Groups"), "", "{v:?}\n{status}");
            // The gofer runs as the sentry's user with only its file capabilities.
            drop(sentry.stdin.take().expect("stdin").write_all(b"\n"));
            let status = sentry.wait().expect("wait for the sentry");
            assert!(status.success(), "{status}");
        }
    }
}

/// Point 2: the identity calls as Linux answers them for root (drop, cannot regain) and
/// for an ordinary user (EPERM), /proc/self/status and `id` inside.
#[test]
fn identity_calls() {
    for v in PLATFORMS {
        let program = v.program("identity_calls");
        v.run(&[], &[program.as_str(), "root"])
            .expect_program_ok("identity done");
        v.run(
            &["--sandbox-user", "1000:1001"],
            &[program.as_str(), "user", "1000", "1001"],
        )
        .expect_program_ok("identity done");
        let run = v.run(&["--sandbox-user", "1234:5678"], &["id"]);
        run.expect_code(0);
        assert!(
            run.stdout.starts_with("uid=1234") && run.stdout.contains("gid=5678"),
            "{}",
            run.describe()
        );
        let run = v.run(&[], &["/bin/sh", "-c", "id -u; id -g"]);
        assert_eq!(run.stdout, "0\n0\n", "{}", run.describe());
    }
}

/// Point 3: owners in sandbox ids; chown recorded by the sentry (path, lchown, fchown),
/// seen by stat, lstat, fstat and statx; files made after a setuid owned by that user.
#[test]
fn owners_and_chown() {
    for v in PLATFORMS {
        let dir = scratch_dir(v, "owners");
        std::fs::write(dir.join("mine"), "x").expect("write a file");
        let d = dir.to_str().expect("UTF-8");
        let script = format!(
            "cd {d} && stat -c '%u:%g' mine && touch f && ln -s f l && chown 1234:5678 f && \
             stat -c '%u:%g' f && chown -h 77:88 l && stat -c '%u:%g' l && \
             stat -L -c '%u:%g' l && chgrp 9 f && ls -ln f | cut -d' ' -f3,4 && \
             python3 -c 'import os; s=os.fstat(os.open(\"f\", 0)); print(s.st_uid, s.st_gid)' && \
             mkdir sub && chown 5:6 sub && stat -c '%u:%g' sub"
        );
        let run = v.run(
            &["--sandbox-user", "1000:1000"],
            &["/bin/sh", "-c", &script],
        );
        // The sandbox user is not root: chown to another user is refused...
        assert_ne!(run.code(), 0, "{}", run.describe());
        assert!(
            run.stdout.starts_with("1000:1000\n"),
            "host files of the invoker show as the sandbox user\n{}",
            run.describe()
        );
        // ...while root in the sandbox may.
        std::fs::remove_dir_all(&dir).expect("clean");
        let dir = scratch_dir(v, "owners");
        std::fs::write(dir.join("mine"), "x").expect("write a file");
        let run = v.run(&[], &["/bin/sh", "-c", &script]);
        run.expect_code(0);
        assert_eq!(
            run.stdout,
            "0:0\n1234:5678\n77:88\n1234:5678\n1234 9\n1234 9\n5:6\n",
            "{}",
            run.describe()
        );
        // The host's owners did not change: the sandbox's ids are not host ids.
        let meta = std::fs::symlink_metadata(dir.join("f")).expect("stat f");
        // SAFETY: geteuid has no preconditions.
        assert_eq!(meta.uid(), unsafe { libc::geteuid() });
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}

/// Point 4: a set-user-ID program owned by root, run by a sandbox process that dropped to
/// uid 1000, runs as uid 1000.
#[test]
fn set_id_bits_raise_nothing() {
    for v in PLATFORMS {
        let dir = scratch_dir(v, "suid");
        let suid = dir.join("suid");
        std::fs::copy(v.program("identity_calls"), &suid).expect("copy the program");
        std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o6755))
            .expect("chmod 6755");
        let program = v.program("identity_calls");
        let run = v.run(
            &[],
            &[
                program.as_str(),
                "dropexec",
                "1000",
                suid.to_str().expect("UTF-8"),
            ],
        );
        run.expect_code(0);
        assert!(
            run.stdout.contains("ids 1000 1000 1000\n"),
            "{}",
            run.describe()
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}

/// Point 5: a non-root sandbox user cannot read a mode-0600 file of another user, nor one
/// root in the sandbox gave to another user; its own files it can.
#[test]
fn permission_checks_of_the_sandbox_user() {
    for v in PLATFORMS {
        let dir = scratch_dir(v, "perm");
        let d = dir.to_str().expect("UTF-8").to_string();
        std::fs::write(dir.join("own"), "own\n").expect("write");
        std::fs::set_permissions(dir.join("own"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        if is_root() {
            // A host file of another host user.
            std::fs::write(dir.join("other"), "secret\n").expect("write");
            std::fs::set_permissions(dir.join("other"), std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
            std::os::unix::fs::chown(dir.join("other"), Some(4242), Some(4242)).expect("chown");
            let run = v.run(
                &["--sandbox-user", "1000:1000"],
                &["/bin/sh", "-c", &format!("cat {d}/own; cat {d}/other")],
            );
            assert_eq!(run.stdout, "own\n", "{}", run.describe());
            assert!(
                run.stderr.contains("Permission denied"),
                "{}",
                run.describe()
            );
            assert_ne!(run.code(), 0);
        }
        // Root in the sandbox gives a 0600 file to 2000, then drops to 1000.
        let program = v.program("identity_calls");
        let script = format!(
            "cd {d} && echo s > given && chmod 600 given && chown 2000:2000 given && \
             {program} dropexec 1000 /bin/cat given"
        );
        let run = v.run(&[], &["/bin/sh", "-c", &script]);
        assert_ne!(run.code(), 0, "{}", run.describe());
        assert!(
            !run.stdout.contains("s\n") && run.stderr.contains("Permission denied"),
            "{}",
            run.describe()
        );
        // Neither may it truncate that file or set its times by path.
        let script = format!(
            "cd {d} && echo keep > kept && chmod 644 kept && chown 2000:2000 kept && \
             {program} dropexec 1000 /bin/sh -c \
             'truncate -s 0 kept || echo no-truncate; touch -d 2000-01-01 kept || echo no-times; \
              touch kept || echo no-now; cat kept'"
        );
        let run = v.run(&[], &["/bin/sh", "-c", &script]);
        assert_eq!(
            run.stdout,
            "no-truncate\nno-times\nno-now\nkeep\n",
            "{}",
            run.describe()
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}

/// Point 6: malformed values, and a uid the host cannot use, are one line and 125.
#[test]
fn bad_identity_options() {
    let v = PLATFORMS[0];
    let mut cases = vec![
        (vec!["--user", "abc"], "--user"),
        (vec!["--user", "1:"], "--user"),
        (vec!["--user=-1:5"], "--user"),
        (vec!["--user", "4294967295:1"], "--user"),
        (vec!["--sandbox-user", "root"], "--sandbox-user"),
        (vec!["--sandbox-user", "1:2:3"], "--sandbox-user"),
    ];
    if is_root() {
        cases.push((vec!["--user", "0:0"], "--user"));
    } else {
        cases.push((vec!["--user", "4242:4242"], "--user"));
    }
    for (options, needle) in cases {
        let run = v.run(&options, &["true"]);
        run.expect_code(125);
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{options:?}: {}", run.describe());
        assert!(
            lines[0].starts_with("sentry: ") && lines[0].contains(needle),
            "{options:?}: {}",
            run.describe()
        );
    }
}

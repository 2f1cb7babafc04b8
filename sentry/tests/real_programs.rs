//! Real programs run unchanged (issue 3, point 5), on the host-libraries fixture
//! (rootfs-fixtures/hostlibs.sh: the host's bash, coreutils, tar, python3 and git with their
//! shared libraries), in both platform modes, with a `--tmpfs` scratch directory. Each test
//! checks the program's output against what the same commands print natively, or against
//! fixed expectations where the output is independent of the host (sorted lists, contents).

use std::path::Path;
use std::time::Duration;

use test_support::{hostlibs_rootfs, Outcome, Scratch, Variant};

const DEADLINE: Duration = Duration::from_secs(120);
const PLATFORMS: [Variant; 2] = test_support::invoker_variants!();

fn run(platform: Variant, options: &[&str], cmd: &[&str]) -> Outcome {
    let rootfs = hostlibs_rootfs();
    let scratch = Scratch::new(&format!("real-{platform}"));
    let mut opts = vec!["-e", "PATH=/usr/bin:/bin", "-e", "LC_ALL=C"];
    opts.extend_from_slice(options);
    platform.run_rootfs(&scratch, &opts, &rootfs, cmd, DEADLINE, &[])
}

fn expect_ok(o: &Outcome, what: &str, platform: Variant) {
    assert_eq!(
        o.code,
        Some(0),
        "{what} (--platform={platform}) failed\n{}",
        o.describe()
    );
}

/// Runs `script` with bash in a `--tmpfs /work` workspace (also its working directory) on
/// both platforms and checks that it prints exactly `stdout`.
fn bash_prints(script: &str, stdout: &str) -> Vec<Outcome> {
    PLATFORMS
        .into_iter()
        .map(|p| {
            let o = run(
                p,
                &["--tmpfs", "/work", "--cwd", "/work"],
                &["/bin/bash", "-c", script],
            );
            expect_ok(&o, "bash -c", p);
            assert_eq!(o.stdout, stdout, "--platform={p}\n{}", o.describe());
            o
        })
        .collect()
}

fn has(rootfs: &Path, path: &str) -> bool {
    rootfs.join(path.trim_start_matches('/')).exists()
}

#[test]
fn bash_pipeline_and_loop() {
    let script = r#"
        for w in pear apple fig; do echo "$w"; done | sort | tr '\n' ' '
        echo
        n=0; while [ "$n" -lt 100 ]; do n=$((n + 1)); done; echo "n=$n"
        x=$(echo sub | tr a-z A-Z); echo "subst=$x"
        ( exit 3 ); echo "status=$?"
        echo piped | cat | cat | wc -c  # "piped\n": 6 bytes
        diff <(echo a) <(echo a) && echo "same"
        echo "to stderr" > /dev/stderr
        echo stdin | cat /dev/stdin
        readlink /dev/fd /dev/stdout
    "#;
    let expected = "apple fig pear \nn=100\nsubst=SUB\nstatus=3\n6\nsame\nstdin\n\
                    /proc/self/fd\n/proc/self/fd/1\n";
    for o in bash_prints(script, expected) {
        assert_eq!(o.stderr, "to stderr\n", "{}", o.describe());
    }
}

/// Symbolic links that lead from one mount into another (an absolute link in a `--tmpfs`
/// workspace, `..` above its root, a link in the rootfs into the workspace): a Python venv
/// made in the workspace runs.
#[test]
fn symlinks_across_mounts() {
    let script = r#"
        ln -s /etc/hostname h && test -r h && echo "absolute: ok"
        ln -s ../bin up && test -x up/bash && echo "dotdot: ok"
        ln -s /work/h /tmp/into-work && test -r /tmp/into-work && echo "into the workspace: ok"
        rm /tmp/into-work
        ln -s /work/made/file dangling && mkdir made && echo x > dangling && cat made/file
        ln -s /proc/self/mounts m && head -1 m | cut -d' ' -f2
        ln -s ../proc/self/mounts /tmp/mtab && head -1 /tmp/mtab | cut -d' ' -f2; rm /tmp/mtab
        readlink h
        python3 -m venv --without-pip v && v/bin/python -c 'import sys; print(sys.prefix)'
    "#;
    bash_prints(
        script,
        "absolute: ok\ndotdot: ok\ninto the workspace: ok\nx\n/\n/\n/etc/hostname\n/work/v\n",
    );
}

/// Named pipes in a shell script: a reader and a writer meet whichever opens first (each
/// open waits for the other end, as open(2) does), and `timeout` ends an open that nobody
/// answers (SIGTERM interrupts it).
#[test]
fn bash_named_pipes() {
    let script = r#"
        mkfifo p
        (echo first > p) & cat p; wait
        cat p & echo second > p; wait
        exec 3<> p; echo third >&3; read -r line <&3; echo "$line"; exec 3<&-
        timeout 0.5 cat p; echo "reader alone: $?"
        timeout 0.5 bash -c 'echo x > p'; echo "writer alone: $?"
        rm p
    "#;
    bash_prints(
        script,
        "first\nsecond\nthird\nreader alone: 124\nwriter alone: 124\n",
    );
}

/// ls -la, mv, find, sort and rm -r on a tree with a file, a subdirectory and a symlink, on a
/// tmpfs. (The expected output is what the same script prints natively on a tmpfs.)
#[test]
fn coreutils_ls_mv_find_sort_rm() {
    let script = r#"
        set -e
        cd /work
        mkdir -p src/sub
        printf 'b\na\nc\n' > src/list
        echo deep > src/sub/file
        ln -s list src/link
        chmod 640 src/list
        ls -la src | tail -n +2 | sed -E 's/^([^ ]+) .* ([^ ]+)$/\1 \2/' | sort -k2
        mv src moved
        [ ! -e src ] && [ -f moved/sub/file ] && [ "$(readlink moved/link)" = list ]
        echo "mv moved the tree"
        find moved | sort
        find moved -type f -name '*i*' | sort
        sort moved/list | tr '\n' ' '; echo
        sort -r moved/list | tr '\n' ' '; echo
        rm -r moved
        [ ! -e moved ]
        echo "rm -r removed the tree"
    "#;
    let want = "\
drwxr-xr-x .
drwxrwxrwt ..
-rw-r----- list
lrwxrwxrwx list
drwxr-xr-x sub
mv moved the tree
moved
moved/link
moved/list
moved/sub
moved/sub/file
moved/list
moved/sub/file
a b c 
c b a 
rm -r removed the tree
";
    bash_prints(script, want);
}

/// python3 -c: os, json, sqlite3 and subprocess; a database written, closed, reopened and
/// read in /tmp (a tmpfs).
#[test]
fn python3_sqlite_json_subprocess() {
    let rootfs = hostlibs_rootfs();
    assert!(
        has(&rootfs, "usr/bin/python3"),
        "python3 is missing from the hostlibs fixture"
    );
    let prog = r#"
import os, json, sqlite3, subprocess
db = "/tmp/py-test/t.db"
os.makedirs(os.path.dirname(db), exist_ok=True)
con = sqlite3.connect(db)
con.execute("create table t (k text primary key, v text)")
con.executemany("insert into t values (?, ?)", [("a", json.dumps({"n": 1})), ("b", json.dumps([1, 2, 3]))])
con.commit()
con.close()
assert os.path.getsize(db) > 0
con = sqlite3.connect(db)
rows = con.execute("select k, v from t order by k").fetchall()
con.close()
out = subprocess.run(["/bin/sh", "-c", "echo from-child; ls /tmp/py-test"], capture_output=True, text=True, check=True)
print(json.dumps({"rows": [[k, json.loads(v)] for k, v in rows], "child": out.stdout.split(), "cwd": os.getcwd()}))
"#;
    for p in PLATFORMS {
        let o = run(
            p,
            &["--tmpfs", "/tmp", "--cwd", "/tmp"],
            &["/usr/bin/python3", "-c", prog],
        );
        expect_ok(&o, "python3 -c", p);
        assert_eq!(
            o.stdout,
            "{\"rows\": [[\"a\", {\"n\": 1}], [\"b\", [1, 2, 3]]], \"child\": [\"from-child\", \"t.db\"], \"cwd\": \"/tmp\"}\n",
            "--platform={p}\n{}",
            o.describe()
        );
    }
}

/// git init, add, commit (identity given with -c), log, cat-file, status, when the fixture
/// has git.
#[test]
fn git_init_and_commit() {
    let rootfs = hostlibs_rootfs();
    if !has(&rootfs, "usr/bin/git") {
        eprintln!("git is not in the hostlibs fixture (the host has none): nothing to test");
        return;
    }
    let script = r#"
        set -e
        git init -q repo
        cd repo
        echo hello > f
        git add f
        git -c user.name=Sentry -c user.email=sentry@example.invalid commit -q -m first
        echo again >> f
        git -c user.name=Sentry -c user.email=sentry@example.invalid commit -q -am second
        git log --format='%an <%ae> %s'
        git cat-file -p HEAD:f
        git status --porcelain | wc -l
        git rev-list --count HEAD
    "#;
    for p in PLATFORMS {
        let o = run(
            p,
            &["--tmpfs", "/work", "--cwd", "/work", "-e", "HOME=/work"],
            &["/bin/bash", "-c", script],
        );
        expect_ok(&o, "git", p);
        assert_eq!(
            o.stdout,
            "Sentry <sentry@example.invalid> second\nSentry <sentry@example.invalid> first\nhello\nagain\n0\n2\n",
            "--platform={p}\n{}",
            o.describe()
        );
    }
}

/// cp -a of a tree with a file, a subdirectory and a symlink: modes, link targets and times
/// kept.
#[test]
fn coreutils_cp_a() {
    let script = r#"
        set -e
        cd /work
        mkdir -p src/sub
        echo deep > src/sub/file
        printf 'b\na\n' > src/list
        ln -s list src/link
        chmod 640 src/list
        touch -h -d @1000000000 src/list src/sub/file src/link
        cp -a src copy
        [ "$(readlink copy/link)" = list ]
        stat -c '%a %Y %n' copy/list copy/sub/file
        stat -c '%Y %n' src/link copy/link
        cmp src/sub/file copy/sub/file
        echo "cp -a kept modes, times and the link"
    "#;
    let want = "\
640 1000000000 copy/list
644 1000000000 copy/sub/file
1000000000 src/link
1000000000 copy/link
cp -a kept modes, times and the link
";
    bash_prints(script, want);
}

/// tar cf then tar xf of a tree with a file, a subdirectory and a symlink.
#[test]
fn tar_create_and_extract() {
    let script = r#"
        set -e
        cd /work
        mkdir -p src/sub
        echo deep > src/sub/file
        printf 'b\na\n' > src/list
        ln -s list src/link
        tar cf a.tar -C src .
        tar tf a.tar | sort
        mkdir untar
        tar xf a.tar -C untar
        cmp untar/sub/file src/sub/file
        cmp untar/list src/list
        [ "$(readlink untar/link)" = list ]
        echo "tar xf restored the tree"
    "#;
    let want = "./\n./link\n./list\n./sub/\n./sub/file\ntar xf restored the tree\n";
    bash_prints(script, want);
}

/// Issue 4, point 4: procps and psmisc read the sandbox's synthesized /proc and show only the
/// sandbox, under its own numbers: the shell is PID 1 and its background `sleep` is its child.
#[test]
fn process_tools_show_only_the_sandbox() {
    let rootfs = hostlibs_rootfs();
    for tool in ["ps", "top", "pstree"] {
        if !has(&rootfs, &format!("/bin/{tool}")) && !has(&rootfs, &format!("/usr/bin/{tool}")) {
            eprintln!("skipped: no {tool} in the host-libraries fixture (procps/psmisc)");
            return;
        }
    }
    let script = r#"
        sleep 30 & s=$!
        ps -e -o pid=,ppid=,comm= | tr -s ' ' | sed 's/^ //'
        echo ---
        top -b -n1 | awk '$1 ~ /^[0-9]+$/ { print $1, $NF }'
        echo ---
        pstree -p 1
        kill $s
        wait
    "#;
    for p in PLATFORMS {
        let o = run(p, &["-e", "TERM=dumb"], &["/bin/bash", "-c", script]);
        expect_ok(&o, "ps, top, pstree", p);
        let sections: Vec<&str> = o.stdout.split("---\n").collect();
        assert_eq!(sections.len(), 3, "--platform={p}\n{}", o.describe());
        // Only the sandbox, under its own small numbers: bash is 1, its sleep 2.
        let ps: Vec<&str> = sections[0].lines().collect();
        assert!(
            ps.contains(&"1 0 bash") && ps.contains(&"2 1 sleep"),
            "--platform={p}\n{}",
            o.describe()
        );
        let pids = |text: &str| -> Vec<u32> {
            text.lines()
                .filter_map(|l| l.split(' ').next()?.parse().ok())
                .collect()
        };
        assert!(
            pids(sections[0]).iter().all(|&pid| pid < 20),
            "ps shows host pids\n{}",
            o.describe()
        );
        let top: Vec<&str> = sections[1].lines().collect();
        assert!(
            top.contains(&"1 bash") && top.contains(&"2 sleep"),
            "--platform={p}\n{}",
            o.describe()
        );
        assert!(
            pids(sections[1]).iter().all(|&pid| pid < 20),
            "top shows host pids\n{}",
            o.describe()
        );
        assert!(
            sections[2].starts_with("bash(1)") && sections[2].contains("sleep(2)"),
            "--platform={p}\n{}",
            o.describe()
        );
    }
}

/// Issue 8, point 3: chown inside is kept by the sentry, so `tar x --same-owner` sees the
/// owners it set (the host files stay owned by the sandbox's host user).
#[test]
fn tar_same_owner_keeps_the_owners_it_sets() {
    let script = r#"
        mkdir src && echo a > src/f && chown 1234:4321 src/f
        tar cf t.tar src && mkdir x && cd x && tar xf ../t.tar --same-owner
        stat -c '%u:%g %n' src/f
    "#;
    for p in PLATFORMS {
        let o = run(
            p,
            &["--tmpfs", "/work", "--cwd", "/work"],
            &["/bin/bash", "-c", script],
        );
        expect_ok(&o, "tar --same-owner", p);
        assert_eq!(
            o.stdout,
            "1234:4321 src/f\n",
            "--platform={p}\n{}",
            o.describe()
        );
    }
}

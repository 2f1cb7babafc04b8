//! An O_PATH fd reaches its task in steps the task runs itself (a helper socket installed,
//! recvmsg, dup3, close, with its signals masked): the other threads of the task attack those
//! steps — they keep and use the helper, steal the fd from it, and flood the opener with
//! signals. The program checks that every fd an open returns is an O_PATH fd of the file it
//! opened, that nothing sent on a kept helper reaches anything (its other end is the
//! sentry's, closed before the task holds it), that the opener's signal mask is its own
//! after each open, and that no helper is left. (A rewrite of the msghdr below the opener's
//! stack pointer cannot be aimed from C without breaking the opener's own frames; the number
//! it would change is checked with kcmp, see the unit tests of `supervisor::path_fd`.)

use test_support::{variant_tests, Variant};

fn opath_steps_hold_against_other_threads(v: Variant) {
    let run = v.run(&[], &[v.program("opath_race")]);
    run.expect_program_ok("opath_race done");
}

variant_tests!(opath_steps_hold_against_other_threads);

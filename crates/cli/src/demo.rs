//! The sample mailbox of `gauntlet demo`: what a course's list receives in a few days, written the
//! way `git send-email` writes it. Three revisions of a series (v2 threaded under v1, v3 not
//! threaded at all), a review, an unthreaded series, a lone patch delivered twice, a pull request,
//! a question that is not a patch, and a mail that lost its sender.

use std::fmt::Write as _;

/// One changed line in one file.
struct Change<'a> {
    file: &'a str,
    old: &'a str,
    new: &'a str,
}

struct Mail {
    from: String,
    date: String,
    subject: String,
    id: String,
    /// Ancestors, oldest first (`References:`); the last is `In-Reply-To:`.
    thread: Vec<String>,
    body: String,
}

const ZOE: &str = "=?UTF-8?Q?Zo=C3=AB_M=C3=BCller?= <zoe.muller@student.example.edu>";
const ZOE_PLAIN: &str = "Zoë Müller <zoe.muller@student.example.edu>";
const LIST: &str = "kernel-course.lists.example.edu";

fn patch_body(message: &str, signer: &str, c: &Change<'_>) -> String {
    format!(
        "{message}\n\nSigned-off-by: {signer}\n---\n {f} | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n\
         diff --git a/{f} b/{f}\nindex 1234567..89abcde 100644\n--- a/{f}\n+++ b/{f}\n\
         @@ -1,3 +1,3 @@\n /* {f} */\n-{old}\n+{new}\n return 0;\n-- \n2.43.0\n",
        f = c.file,
        old = c.old,
        new = c.new
    )
}

fn render(m: &Mail) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "From git@z Thu Jan  1 00:00:00 1970");
    let _ = writeln!(s, "From: {}", m.from);
    let _ = writeln!(s, "To: kernel-course@lists.example.edu");
    let _ = writeln!(s, "Date: {}", m.date);
    let _ = writeln!(s, "Subject: {}", m.subject);
    let _ = writeln!(s, "Message-Id: <{}>", m.id);
    if let Some(parent) = m.thread.last() {
        let _ = writeln!(s, "In-Reply-To: <{parent}>");
        let refs: Vec<String> = m.thread.iter().map(|r| format!("<{r}>")).collect();
        let _ = writeln!(s, "References: {}", refs.join("\n "));
    }
    let _ = writeln!(s, "List-Id: <{LIST}>");
    let _ = writeln!(s, "MIME-Version: 1.0");
    let _ = writeln!(s, "Content-Type: text/plain; charset=UTF-8");
    let _ = writeln!(s, "Content-Transfer-Encoding: 8bit");
    s.push('\n');
    s.push_str(&m.body);
    s.push('\n');
    s
}

/// Cover letter and three patches of one revision of the proctree series.
fn proctree(version: Option<u32>, id: &str, date: &str, thread: &[String]) -> Vec<Mail> {
    let tag = match version {
        Some(v) => format!("PATCH v{v}"),
        None => "PATCH".to_string(),
    };
    let changes = [
        (
            "proctree: add the system call",
            Change {
                file: "kernel/sys.c",
                old: "long sys_ni(void);",
                new: "long sys_proctree(pid_t pid, struct proc_info __user *buf, size_t n);",
            },
        ),
        (
            "proctree: declare it",
            Change {
                file: "include/linux/syscalls.h",
                old: "asmlinkage long sys_ni_syscall(void);",
                new: "asmlinkage long sys_proctree(pid_t, struct proc_info __user *, size_t);",
            },
        ),
        (
            "proctree: add a selftest",
            Change {
                file: "tools/testing/proctree/test.c",
                old: "int main(void) { return 1; }",
                new: "int main(void) { return proctree_selftest(); }",
            },
        ),
    ];
    let cover_id = format!("{id}-0@student.example.edu");
    let mut mails = vec![Mail {
        from: ZOE.to_string(),
        date: date.to_string(),
        subject: format!("[{tag} 0/3] proctree: a system call to walk the process tree"),
        id: cover_id.clone(),
        thread: thread.to_vec(),
        body: "This series adds proctree(2), which copies the process tree below a\n\
               pid into a user buffer, with a selftest.\n\n\
               Zoë Müller (3):\n  proctree: add the system call\n  proctree: declare it\n  \
               proctree: add a selftest\n\n\
               base-commit: 0123456789abcdef0123456789abcdef01234567\n-- \n2.43.0\n"
            .to_string(),
    }];
    for (n, (subject, change)) in changes.iter().enumerate() {
        let mut patch_thread = thread.to_vec();
        patch_thread.push(cover_id.clone());
        mails.push(Mail {
            from: ZOE.to_string(),
            date: date.to_string(),
            subject: format!("[{tag} {}/3] {subject}", n + 1),
            id: format!("{id}-{}@student.example.edu", n + 1),
            thread: patch_thread,
            body: patch_body(
                &format!("{subject}\n\nPart {} of the proctree assignment.", n + 1),
                ZOE_PLAIN,
                change,
            ),
        });
    }
    mails
}

/// The sample mailbox (mbox format).
pub(crate) fn sample_mbox() -> String {
    let mut mails = proctree(
        None,
        "20240301.proctree-v1",
        "Fri, 1 Mar 2024 10:00:00 +0100",
        &[],
    );
    let v1_cover = mails[0].id.clone();
    let v1_patch2 = mails[2].id.clone();
    mails.push(Mail {
        from: "Tara Assistant <ta@example.edu>".to_string(),
        date: "Fri, 1 Mar 2024 14:30:00 +0100".to_string(),
        subject: "Re: [PATCH 2/3] proctree: declare it".to_string(),
        id: "ta-review-1@example.edu".to_string(),
        thread: vec![v1_cover.clone(), v1_patch2],
        body: "> asmlinkage long sys_proctree(pid_t, struct proc_info __user *, size_t);\n\n\
               Name the parameters, please.\n\nReviewed-by: Tara Assistant <ta@example.edu>\n"
            .to_string(),
    });
    // v2 answers v1's cover letter; v3 is posted on its own two days later.
    mails.extend(proctree(
        Some(2),
        "20240302.proctree-v2",
        "Sat, 2 Mar 2024 09:00:00 +0100",
        &[v1_cover],
    ));
    mails.extend(proctree(
        Some(3),
        "20240303.proctree-v3",
        "Sun, 3 Mar 2024 18:00:00 +0100",
        &[],
    ));

    let typo = Change {
        file: "Documentation/process/howto.rst",
        old: "Teh kernel",
        new: "The kernel",
    };
    for body_end in ["", " "] {
        // The same patch delivered twice (same Message-ID, different bytes).
        mails.push(Mail {
            from: "Kenji Tanaka <kenji@example.org>".to_string(),
            date: "Sat, 2 Mar 2024 11:00:00 +0900".to_string(),
            subject: "[PATCH] docs: fix a typo in howto.rst".to_string(),
            id: "typo-1@example.org".to_string(),
            thread: Vec::new(),
            body: patch_body(
                &format!("docs: fix a typo in howto.rst{body_end}"),
                "Kenji Tanaka <kenji@example.org>",
                &typo,
            ),
        });
    }
    // An unthreaded pair: grouped by sender, version and count within twenty minutes.
    for (n, date, file) in [
        (1, "Sun, 3 Mar 2024 08:00:00 -0500", "mm/a.c"),
        (2, "Sun, 3 Mar 2024 08:07:00 -0500", "mm/b.c"),
    ] {
        mails.push(Mail {
            from: "Ana García <ana@example.com>".to_string(),
            date: date.to_string(),
            subject: format!("[PATCH net-next {n}/2] mm: widen x in {file}"),
            id: format!("unthreaded-{n}@example.com"),
            thread: Vec::new(),
            body: patch_body(
                "mm: widen x",
                "Ana García <ana@example.com>",
                &Change {
                    file,
                    old: "int x;",
                    new: "long x;",
                },
            ),
        });
    }
    mails.push(Mail {
        from: "Maintainer <maint@example.org>".to_string(),
        date: "Mon, 4 Mar 2024 10:00:00 +0000".to_string(),
        subject: "[GIT PULL] proctree fixes for v6.9".to_string(),
        id: "pull-1@example.org".to_string(),
        thread: Vec::new(),
        body: "The following changes since commit 0123456789abcdef0123456789abcdef01234567:\n\n  \
               Linux 6.8 (2024-03-10 13:38:09 -0700)\n\n\
               are available in the git repository at:\n\n  \
               https://git.example.org/proctree.git tags/proctree-fixes-6.9\n\n\
               for you to fetch changes up to 89abcdef0123456789abcdef0123456789abcdef:\n\n  \
               proctree: fix the selftest (2024-03-11 10:00:00 +0000)\n"
            .to_string(),
    });
    mails.push(Mail {
        from: "Ana García <ana@example.com>".to_string(),
        date: "Mon, 4 Mar 2024 12:00:00 +0000".to_string(),
        subject: "Lab 3 deadline?".to_string(),
        id: "question@example.com".to_string(),
        thread: Vec::new(),
        body: "Is the deadline Friday or Monday?\n".to_string(),
    });
    let mut out: String = mails.iter().map(render).collect();
    // A mail that lost its From: header on the way.
    out.push_str(
        "From git@z Thu Jan  1 00:00:00 1970\nSubject: [PATCH] orphan\n\
         Message-Id: <nofrom@example.org>\nDate: Mon, 4 Mar 2024 13:00:00 +0000\n\n\
         ---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\n",
    );
    out
}

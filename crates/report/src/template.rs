//! Report templates (minijinja), the built-in one in the seed's words.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};

use crate::{Error, Report};

/// The built-in report: the course's mail ("Hi NAME, … You have passed N tests on M. …
/// Perfect! Your work will be examined. …"), extended with what failed and why.
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/report.txt.j2");

const NAME: &str = "report";

/// A compiled report template.
#[derive(Debug)]
pub struct Template {
    env: Environment<'static>,
    origin: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Block tags on their own lines leave no blank lines behind; a mail ends with its newline.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    // A misspelt variable is an error, not an empty string in a mail to a student.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Reports are plain text: nothing is HTML-escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

impl Template {
    /// The built-in template.
    pub fn builtin() -> Template {
        // The built-in template is tested to compile; if it ever did not, report it as a
        // template error on first render instead of panicking here.
        Template::compile("built-in report template", DEFAULT_TEMPLATE.to_owned()).unwrap_or_else(
            |_| Template {
                env: environment(),
                origin: "built-in report template".into(),
            },
        )
    }

    /// A project's template file.
    pub fn from_file(path: &Path) -> Result<Template, Error> {
        let source = std::fs::read_to_string(path).map_err(|source| Error::ReadTemplate {
            path: path.display().to_string(),
            source,
        })?;
        Template::compile(&path.display().to_string(), source)
    }

    /// Compiles `source`, naming it `origin` in errors.
    pub fn compile(origin: &str, source: String) -> Result<Template, Error> {
        let mut env = environment();
        env.add_template_owned(NAME, source)
            .map_err(|e| template_error(origin, &e))?;
        Ok(Template {
            env,
            origin: origin.to_owned(),
        })
    }

    /// Renders `report`.
    pub fn render(&self, report: &Report) -> Result<String, Error> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| template_error(&self.origin, &e))?;
        template
            .render(minijinja::value::Value::from(minijinja::value::Serde(
                report,
            )))
            .map_err(|e| template_error(&self.origin, &e))
    }
}

fn template_error(origin: &str, error: &minijinja::Error) -> Error {
    let mut message = error.to_string();
    if let Some(line) = error.line() {
        message = format!("line {line}: {message}");
    }
    Error::Template {
        path: origin.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Failure, Verdict};

    fn seed_report() -> Report {
        Report {
            name: "John Smith".into(),
            email: "john@example.org".into(),
            project: "HTS Syscall".into(),
            patch: "[v9] syscall: add dummy system call".into(),
            suites: vec!["dummy".into()],
            verdict: Verdict::Accepted,
            tests_ran: true,
            passed: 7,
            total: 7,
            failures: vec![],
            warnings: vec![],
            logs_url: None,
            signature: "LSE Team".into(),
        }
    }

    /// The seed's report, word for word.
    const SEED: &str = "Hi John Smith,

Project: HTS Syscall
Patch: [v9] syscall: add dummy system call
Tests suite: dummy

You have passed 7 tests on 7.

Perfect! Your work will be examined.

If you think this is a false positive,
please reply-all to this message.

Sincerely,
LSE Team
";

    #[test]
    fn the_builtin_template_says_what_the_seed_says() {
        let text = Template::builtin().render(&seed_report());
        assert_eq!(text.ok().as_deref(), Some(SEED));
    }

    #[test]
    fn a_rejection_says_what_failed() {
        let mut report = seed_report();
        report.verdict = Verdict::Rejected;
        report.passed = 5;
        report.failures = vec![Failure {
            stage: "test".into(),
            what: "dummy/getpid".into(),
            reason: "FAIL".into(),
            excerpt: Some("expected 42\ngot 0".into()),
            link: Some("https://ci.example.org/runs/3/logs/test.log#L12".into()),
        }];
        report.warnings = vec!["checkpatch: LONG_LINE in patch 1/1".into()];
        let text = Template::builtin().render(&report).unwrap_or_default();
        assert!(text.contains("You have passed 5 tests on 7.\n\ntest: dummy/getpid: FAIL\n    expected 42\n    got 0\n    https://ci.example.org/runs/3/logs/test.log#L12\n"), "{text}");
        assert!(
            text.contains("Warnings (they do not reject the series):\n  checkpatch: LONG_LINE"),
            "{text}"
        );
        assert!(
            text.contains("Please fix this and send a new revision."),
            "{text}"
        );
        assert!(!text.contains("Perfect!"));
        assert!(text.ends_with("Sincerely,\nLSE Team\n"));

        report.tests_ran = false;
        report.failures[0].stage = "checks".into();
        let text = Template::builtin().render(&report).unwrap_or_default();
        assert!(
            text.contains("Your series was rejected before it could be tested."),
            "{text}"
        );
        assert!(!text.contains("You have passed"), "{text}");
    }

    #[test]
    fn an_infrastructure_error_blames_nobody() {
        let mut report = seed_report();
        report.verdict = Verdict::Error;
        report.tests_ran = false;
        report.failures = vec![Failure {
            stage: "build".into(),
            what: "x86_64".into(),
            reason: "the compiler aarch64-linux-gnu-gcc is not installed".into(),
            excerpt: None,
            link: None,
        }];
        let text = Template::builtin().render(&report).unwrap_or_default();
        assert!(
            text.contains("a problem on our side, not in your patches"),
            "{text}"
        );
        assert!(text.contains("you do not need to do anything"), "{text}");
    }

    #[test]
    fn project_templates_are_checked() {
        let bad = Template::compile("p/report.j2", "Hi {{ name }\n".into());
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("p/report.j2: line 1:"), "{message}");
        let unknown = Template::compile("p/report.j2", "Hi {{ nmae }}\n".into())
            .and_then(|t| t.render(&seed_report()));
        assert!(
            unknown.is_err(),
            "a misspelt variable must not render as nothing"
        );
        let custom = Template::compile(
            "p/report.j2",
            "{{ name }}: {{ passed }}/{{ total }}\n".into(),
        )
        .and_then(|t| t.render(&seed_report()));
        assert_eq!(custom.ok().as_deref(), Some("John Smith: 7/7\n"));
    }
}

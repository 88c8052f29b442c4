//! docker/k8s/: every manifest is a valid Kubernetes object (kubernetes-validate, strict, with
//! the schemas of the oldest and newest Kubernetes checked), and the run the manifests describe
//! holds together: no password in them, N generators in an Indexed Job sharing one start time
//! and writing where the merge reads, the mode switched once (by the coordinator) and put back,
//! and every pgsyncbench command line one the binary takes, run as far as the network.
//!
//! kubernetes-validate comes from PyPI into a venv of its own (scripts/install-deps.sh); its
//! PyYAML reads the manifests for the invariants too, as JSON. Without it these tests fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The oldest and the newest Kubernetes whose schemas the manifests are checked against.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
const IMAGE: &str = "pgsyncbench/pgsyncbench:";
const RESULTS: &str = "/results";
const CONFIG_MAP: &str = "pgsyncbench-run";
const COORDINATOR: &str = "pgsyncbench-coordinator";
const GENERATORS: &str = "pgsyncbench-generators";
const MERGE: &str = "pgsyncbench-merge";

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/k8s")
}

/// Every YAML file under docker/k8s/, relative to it, sorted.
fn manifest_files() -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let root = k8s_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no manifests under {}", root.display());
    files
}

fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var("PGSYNCBENCH_K8S_VENV")
        .unwrap_or_else(|_| "/opt/pgsyncbench-k8s-venv".into());
    let tool = Path::new(&venv).join("bin/kubernetes-validate");
    assert!(
        tool.is_file(),
        "kubernetes-validate is not installed: {} is missing. scripts/install-deps.sh installs it \
         from PyPI into {venv} (PGSYNCBENCH_K8S_VENV names another venv); when it warned that it \
         could not, PyPI was not reachable from this machine",
        tool.display()
    );
    Path::new(&venv).join("bin").join(name)
}

/// Every object in the manifests, as (file, object), read by the venv's PyYAML; timestamps
/// stay the text they are (the schema check refuses an unquoted one where a string belongs).
fn objects() -> Vec<(String, Value)> {
    const DUMP: &str = "import json, sys, yaml\n\
        class Loader(yaml.SafeLoader): pass\n\
        Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != 'tag:yaml.org,2002:timestamp']\n\
        \x20   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}\n\
        out = []\n\
        for path in sys.argv[1:]:\n\
        \x20   with open(path) as f:\n\
        \x20       out += [[path, doc] for doc in yaml.load_all(f, Loader) if doc is not None]\n\
        json.dump(out, sys.stdout)\n";
    let out = Command::new(venv_tool("python"))
        .args(["-c", DUMP])
        .args(manifest_files())
        .current_dir(k8s_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reading the manifests with PyYAML failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<(String, Value)>>(&out.stdout).unwrap()
}

#[test]
fn every_manifest_is_valid_against_kubernetes_schemas() {
    let files = manifest_files();
    let objects = objects().len();
    for version in KUBERNETES_VERSIONS {
        let out = Command::new(venv_tool("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", version])
            .args(&files)
            .current_dir(k8s_dir())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let passed = |l: &str| l.starts_with("INFO ") && l.contains(" passed for resource ");
        // A kind it has no schema for is only a warning to kubernetes-validate: not here.
        let others: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !passed(l))
            .collect();
        assert!(
            out.status.success() && others.is_empty(),
            "kubernetes-validate --strict against Kubernetes {version} ({}):\n{text}",
            out.status
        );
        assert_eq!(
            text.lines().filter(|l| passed(l)).count(),
            objects,
            "every object in docker/k8s/ checked against Kubernetes {version}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The manifests as a run: objects, containers, their environment and command lines.

/// Where a container's environment variable comes from.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Literal(String),
    Config(String),
    Secret {
        name: String,
        key: String,
    },
    Field,
    /// JOB_COMPLETION_INDEX, which the Job controller sets in an Indexed Job's pods.
    Index,
}

struct Container<'a> {
    /// e.g. "job/pgsyncbench-coordinator init container apply"
    place: String,
    owner: String,
    init: bool,
    /// Position in the pod: init containers in order, then the containers.
    step: usize,
    spec: &'a Value,
    env: BTreeMap<String, Source>,
    /// The pods this container runs in: N for an Indexed Job, else 1.
    pods: usize,
}

struct Run<'a> {
    objects: &'a [(String, Value)],
    config: BTreeMap<String, String>,
    containers: Vec<Container<'a>>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn name_of(object: &Value) -> String {
    format!(
        "{}/{}",
        str_at(object, &["kind"]).unwrap_or("?").to_lowercase(),
        str_at(object, &["metadata", "name"]).unwrap_or("?")
    )
}

fn pod_spec(object: &Value) -> Option<&Value> {
    match str_at(object, &["kind"])? {
        "Job" => object.pointer("/spec/template/spec"),
        "Pod" => object.get("spec"),
        _ => None,
    }
}

impl<'a> Run<'a> {
    fn new(objects: &'a [(String, Value)]) -> Run<'a> {
        let config_maps: BTreeMap<String, BTreeMap<String, String>> = objects
            .iter()
            .filter(|(_, o)| str_at(o, &["kind"]) == Some("ConfigMap"))
            .map(|(_, o)| {
                let data = o.get("data").and_then(Value::as_object).unwrap();
                let data = data
                    .iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_str()
                            .unwrap_or_else(|| panic!("{}: {k} is {v}, not a string", name_of(o)));
                        (k.clone(), v.to_string())
                    })
                    .collect();
                (str_at(o, &["metadata", "name"]).unwrap().to_string(), data)
            })
            .collect();
        let config = config_maps
            .get(CONFIG_MAP)
            .unwrap_or_else(|| panic!("no ConfigMap {CONFIG_MAP} in docker/k8s/"))
            .clone();
        let mut containers = Vec::new();
        for (_, object) in objects {
            let Some(pod) = pod_spec(object) else {
                continue;
            };
            let owner = name_of(object);
            let indexed = object
                .pointer("/spec/completionMode")
                .and_then(Value::as_str)
                == Some("Indexed");
            let pods = if indexed {
                object
                    .pointer("/spec/completions")
                    .unwrap()
                    .as_u64()
                    .unwrap() as usize
            } else {
                1
            };
            let steps = list(pod, "initContainers")
                .iter()
                .map(|c| (true, c))
                .chain(list(pod, "containers").iter().map(|c| (false, c)));
            for (step, (init, spec)) in steps.enumerate() {
                let cname = str_at(spec, &["name"]).unwrap();
                let place = format!(
                    "{owner} {} {cname}",
                    if init { "init container" } else { "container" }
                );
                let mut env = BTreeMap::new();
                if indexed {
                    env.insert("JOB_COMPLETION_INDEX".to_string(), Source::Index);
                }
                for from in list(spec, "envFrom") {
                    let name = str_at(from, &["configMapRef", "name"])
                        .unwrap_or_else(|| panic!("{place}: envFrom other than a ConfigMap"));
                    let data = config_maps
                        .get(name)
                        .unwrap_or_else(|| panic!("{place}: no ConfigMap {name} here"));
                    for key in data.keys() {
                        env.insert(key.clone(), Source::Config(key.clone()));
                    }
                }
                for e in list(spec, "env") {
                    let var = str_at(e, &["name"]).unwrap().to_string();
                    let source = if let Some(v) = str_at(e, &["value"]) {
                        Source::Literal(v.to_string())
                    } else if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
                        let (cm, key) =
                            (str_at(r, &["name"]).unwrap(), str_at(r, &["key"]).unwrap());
                        assert!(
                            config_maps.get(cm).is_some_and(|d| d.contains_key(key)),
                            "{place}: {var} from {cm}.{key}, which is not here"
                        );
                        assert_eq!(cm, CONFIG_MAP, "{place}: {var}");
                        Source::Config(key.to_string())
                    } else if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
                        Source::Secret {
                            name: str_at(r, &["name"]).unwrap().to_string(),
                            key: str_at(r, &["key"]).unwrap().to_string(),
                        }
                    } else if e.pointer("/valueFrom/fieldRef/fieldPath").is_some() {
                        Source::Field
                    } else {
                        panic!("{place}: {var} has neither a value nor a source we know");
                    };
                    env.insert(var, source);
                }
                containers.push(Container {
                    place,
                    owner: owner.clone(),
                    init,
                    step,
                    spec,
                    env,
                    pods,
                });
            }
        }
        Run {
            objects,
            config,
            containers,
        }
    }

    fn object(&self, kind: &str, name: &str) -> &'a Value {
        let want = format!("{}/{name}", kind.to_lowercase());
        &self
            .objects
            .iter()
            .find(|(_, o)| name_of(o) == want)
            .unwrap_or_else(|| panic!("no {kind} {name} in docker/k8s/"))
            .1
    }

    fn generators(&self) -> usize {
        self.config["GENERATORS"].parse().unwrap()
    }

    fn folder(&self) -> String {
        format!("{RESULTS}/{}", self.config["START_AT"])
    }

    /// The containers of one object.
    fn of(&self, kind: &str, name: &str) -> Vec<&Container<'a>> {
        let owner = format!("{}/{name}", kind.to_lowercase());
        self.containers
            .iter()
            .filter(|c| c.owner == owner)
            .collect()
    }
}

impl Container<'_> {
    /// The value a variable has in pod `index`, with `config` standing for the ConfigMap.
    fn var(&self, name: &str, config: &BTreeMap<String, String>, index: usize) -> Option<String> {
        match self.env.get(name)? {
            Source::Literal(v) => Some(v.clone()),
            Source::Config(key) => config.get(key).cloned(),
            Source::Index => Some(index.to_string()),
            Source::Secret { .. } | Source::Field => None,
        }
    }

    fn command(&self) -> Vec<&str> {
        list(self.spec, "command")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    fn raw_args(&self) -> Vec<&str> {
        list(self.spec, "args")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    /// The script of a `/bin/sh -c` container, as Kubernetes hands it to the shell.
    fn script(&self, config: &BTreeMap<String, String>, index: usize) -> Option<String> {
        if !matches!(self.command().as_slice(), ["/bin/sh" | "sh", "-c"]) {
            return None;
        }
        let args = self.raw_args();
        assert_eq!(args.len(), 1, "{}: one script after sh -c", self.place);
        Some(self.kube_expand(args[0], config, index))
    }

    /// Kubernetes' expansion of command and args: `$(VAR)` is the variable's value, `$$` is `$`,
    /// and a `$(...)` naming no variable stays as it is (so a shell's `$(date)` survives, and so
    /// would a misspelt variable: those fail here).
    fn kube_expand(&self, input: &str, config: &BTreeMap<String, String>, index: usize) -> String {
        let mut out = String::new();
        let mut rest = input;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('(')
                && let Some(end) = inner.find(')')
            {
                let name = &inner[..end];
                match self.var(name, config, index) {
                    Some(v) => out.push_str(&v),
                    None => {
                        assert!(
                            !is_identifier(name),
                            "{}: $({name}) is no variable of the container (env, envFrom{}), so \
                             Kubernetes would pass it on as it is",
                            self.place,
                            if self.env.contains_key(name) {
                                "; a Secret or field value in args would be visible in the pod's spec"
                            } else {
                                ""
                            }
                        );
                        out.push_str(&rest[at..at + 3 + end]);
                    }
                }
                rest = &inner[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    /// A script with the variables of its environment (`$VAR`, `${VAR}`) replaced by their
    /// values, to compare paths with; the shell's own variables stay.
    fn shell_substitute(
        &self,
        script: &str,
        config: &BTreeMap<String, String>,
        index: usize,
    ) -> String {
        let mut out = String::new();
        let mut rest = script;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let braced = after.starts_with('{');
            let body = if braced { &after[1..] } else { after };
            let len = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            let name = &body[..len];
            let closed = !braced || body[len..].starts_with('}');
            match self
                .var(name, config, index)
                .filter(|_| is_identifier(name) && closed)
            {
                Some(v) => {
                    out.push_str(&v);
                    rest = &body[len + usize::from(braced)..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The pgsyncbench command line of pod `index`, if this container runs one: the image's
    /// entrypoint with args, or a script's line `[exec] pgsyncbench ...` (globs are given
    /// `folder_files` to match).
    fn pgsyncbench(
        &self,
        config: &BTreeMap<String, String>,
        index: usize,
        folder_files: &[String],
    ) -> Option<Vec<String>> {
        if let Some(script) = self.script(config, index) {
            let lines: Vec<&str> = script
                .lines()
                .map(|l| l.trim().trim_start_matches("exec "))
                .filter(|l| l.starts_with("pgsyncbench "))
                .collect();
            assert!(
                lines.len() <= 1,
                "{}: one pgsyncbench command per step",
                self.place
            );
            let line = lines.first()?;
            let mut argv = Vec::new();
            for (word, glob) in shell_words(line, &|n| self.var(n, config, index), &self.place) {
                if glob {
                    let matched: Vec<String> = folder_files
                        .iter()
                        .filter(|f| wildcard(&word, f))
                        .cloned()
                        .collect();
                    assert!(
                        !matched.is_empty(),
                        "{}: {word} matches nothing",
                        self.place
                    );
                    argv.extend(matched);
                } else {
                    argv.push(word);
                }
            }
            return Some(argv[1..].to_vec());
        }
        if !self.command().is_empty() {
            return None;
        }
        Some(
            self.raw_args()
                .iter()
                .map(|a| self.kube_expand(a, config, index))
                .collect(),
        )
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Words of one simple shell command (quotes, `$VAR` and `${VAR}`), each with whether it holds
/// an unquoted `*`. Anything more (`;`, `|`, `&`, redirections, `$(...)`) is refused: the
/// pgsyncbench lines stay plain.
fn shell_words(
    line: &str,
    var: &dyn Fn(&str) -> Option<String>,
    place: &str,
) -> Vec<(String, bool)> {
    let mut words = Vec::new();
    let (mut word, mut glob, mut started) = (String::new(), false, false);
    let (mut double, mut single) = (false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => {
                single = !single;
                started = true;
            }
            _ if single => word.push(c),
            '"' => {
                double = !double;
                started = true;
            }
            '$' => {
                let braced = chars.next_if_eq(&'{').is_some();
                let mut name = String::new();
                while let Some(n) = chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_') {
                    name.push(n);
                }
                if braced {
                    assert_eq!(chars.next(), Some('}'), "{place}: ${{{name}...");
                }
                assert!(
                    is_identifier(&name),
                    "{place}: a $ the test does not follow in {line}"
                );
                let value = var(&name)
                    .unwrap_or_else(|| panic!("{place}: ${name} is no variable of the container"));
                word.push_str(&value);
                started = true;
            }
            ' ' | '\t' if !double => {
                if started {
                    words.push((std::mem::take(&mut word), glob));
                }
                (glob, started) = (false, false);
            }
            ';' | '|' | '&' | '<' | '>' | '`' | '(' | ')' if !double => {
                panic!("{place}: not a simple command: {line}")
            }
            '*' if !double => {
                word.push(c);
                (glob, started) = (true, true);
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(!single && !double, "{place}: unbalanced quotes in {line}");
    if started {
        words.push((word, glob));
    }
    words
}

/// `*` matches any run of characters but `/`, as the shell's pathname expansion does.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            for i in rest.char_indices().map(|(i, _)| i).chain([rest.len()]) {
                if wildcard(tail, &rest[i..]) {
                    return true;
                }
                if rest[i..].starts_with('/') {
                    return false;
                }
            }
            false
        }
    }
}

/// Upper-case variables a script reads: each must be in its environment, or set by the script.
fn check_script_variables(c: &Container, script: &str) {
    let mut at = 0;
    while let Some(i) = script[at..].find('$') {
        let start = at + i + 1;
        let rest = script[start..].trim_start_matches('{');
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if is_identifier(&name) && !rest[name.len()..].starts_with(|c: char| c.is_ascii_lowercase())
        {
            assert!(
                c.env.contains_key(&name) || script.contains(&format!("{name}=")),
                "{}: the script reads ${name}, which is not in its environment",
                c.place
            );
        }
        at = start;
    }
}

/// A value option of a pgsyncbench command line.
fn option<'b>(argv: &'b [String], flag: &str) -> Option<&'b str> {
    let at = argv.iter().position(|a| a == flag)?;
    Some(argv.get(at + 1).expect("a value after the flag").as_str())
}

fn subcommand(argv: &[String]) -> String {
    match argv.first().map(String::as_str) {
        Some("cluster") => format!("cluster {}", argv.get(1).map_or("", |s| s)),
        Some(s) => s.to_string(),
        None => String::new(),
    }
}

/// Every string in a value, with where it is.
fn strings<'b>(v: &'b Value, at: String, out: &mut Vec<(String, &'b str)>) {
    match v {
        Value::String(s) => out.push((at, s)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| strings(v, format!("{at}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, v)| strings(v, format!("{at}.{k}"), out)),
        _ => {}
    }
}

/// What the run's pieces say, read from the manifests as the pods would see them.
impl<'a> Run<'a> {
    /// The generator pod's pgsyncbench container (after its wait).
    fn generator(&self) -> &Container<'a> {
        let found: Vec<&Container> = self
            .of("Job", GENERATORS)
            .into_iter()
            .filter(|c| c.pgsyncbench(&self.config, 0, &[]).is_some())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one pgsyncbench container per generator pod"
        );
        assert!(
            !found[0].init,
            "the generator runs as the pod's container, after its wait"
        );
        found[0]
    }

    /// Each generator pod's command line.
    fn generator_runs(&self) -> Vec<Vec<String>> {
        let g = self.generator();
        (0..self.generators())
            .map(|i| g.pgsyncbench(&self.config, i, &[]).unwrap())
            .collect()
    }

    /// The files the generators write (`--json`), pod by pod.
    fn outputs(&self) -> Vec<String> {
        self.generator_runs()
            .iter()
            .map(|a| option(a, "--json").expect("run --json").to_string())
            .collect()
    }

    /// The coordinator's `cluster apply` step and its command line.
    fn apply(&self) -> (&Container<'a>, Vec<String>) {
        let mut found: Vec<(&Container, Vec<String>)> = self
            .of("Job", COORDINATOR)
            .into_iter()
            .filter_map(|c| c.pgsyncbench(&self.config, 0, &[]).map(|a| (c, a)))
            .filter(|(_, a)| subcommand(a) == "cluster apply")
            .collect();
        assert_eq!(found.len(), 1, "the coordinator applies the mode once");
        found.remove(0)
    }

    /// What the run's folder holds when the merge starts.
    fn folder_files(&self) -> Vec<String> {
        let (_, apply) = self.apply();
        let mut files = self.outputs();
        files.push(option(&apply, "--save").expect("apply --save").to_string());
        files.push(format!("{}/mode-live", self.folder()));
        files
    }

    /// A container's script, with the values of its environment in place of `$VAR`.
    fn script_of(&self, c: &Container) -> String {
        let script = c.script(&self.config, 0).unwrap_or_default();
        c.shell_substitute(&script, &self.config, 0)
    }
}

#[test]
fn no_password_is_written_in_the_manifests() {
    let objects = objects();
    let run = Run::new(&objects);
    // No Secret object (it would hold the password), none in the ConfigMap, none in a URL or a
    // connection string; every *PASSWORD* variable from a Secret (secretKeyRef), all one Secret.
    for (file, o) in &objects {
        let kind = str_at(o, &["kind"]).unwrap();
        assert!(
            ["ConfigMap", "PersistentVolumeClaim", "Job", "Pod"].contains(&kind),
            "{file}: {kind} (a Secret would hold the password; other kinds are no part of the run)"
        );
        let mut all = Vec::new();
        strings(o, name_of(o), &mut all);
        for (at, s) in all {
            assert!(
                !s.to_lowercase().contains("password="),
                "{file} {at}: a password in {s:?}"
            );
            for (i, _) in s.match_indices("://") {
                let authority = s[i + 3..].split(['/', ' ', '"', '\'']).next().unwrap();
                assert!(
                    !authority.contains('@'),
                    "{file} {at}: credentials in the URL {s:?}"
                );
            }
        }
    }
    for key in run.config.keys() {
        let k = key.to_uppercase();
        assert!(
            !["PASS", "SECRET", "TOKEN"].iter().any(|w| k.contains(w)),
            "ConfigMap {CONFIG_MAP} holds {key}: credentials come from a Secret"
        );
    }
    let mut secrets = BTreeSet::new();
    for c in &run.containers {
        for e in list(c.spec, "env") {
            let var = str_at(e, &["name"]).unwrap();
            if var.to_uppercase().contains("PASSWORD") {
                assert!(
                    e.get("value").is_none() && e.pointer("/valueFrom/secretKeyRef").is_some(),
                    "{}: {var} must come from a Secret (secretKeyRef), never a value",
                    c.place
                );
            }
        }
        for source in c.env.values() {
            if let Source::Secret { name, key } = source {
                assert!(!key.is_empty(), "{}: a secretKeyRef without a key", c.place);
                secrets.insert(name.as_str());
            }
        }
        // Every command that connects to PostgreSQL has the password it needs.
        for i in 0..c.pods {
            if let Some(a) = c.pgsyncbench(&run.config, i, &run.folder_files())
                && subcommand(&a) != "merge"
            {
                assert!(
                    matches!(c.env.get("PGPASSWORD"), Some(Source::Secret { .. })),
                    "{}: {} connects to PostgreSQL: PGPASSWORD from a Secret",
                    c.place,
                    subcommand(&a)
                );
            }
        }
    }
    assert_eq!(
        secrets.len(),
        1,
        "one Secret for the credentials: {secrets:?}"
    );
}

#[test]
fn pods_run_unprivileged_bounded_from_the_loaded_image_on_the_shared_volume() {
    let objects = objects();
    let run = Run::new(&objects);
    let namespaces: BTreeSet<&str> = objects
        .iter()
        .map(|(_, o)| str_at(o, &["metadata", "namespace"]).expect("a namespace on every object"))
        .collect();
    assert_eq!(namespaces.len(), 1, "one namespace: {namespaces:?}");
    for (_, o) in &objects {
        let Some(pod) = pod_spec(o) else { continue };
        let name = name_of(o);
        assert_eq!(
            pod.pointer("/securityContext/runAsNonRoot"),
            Some(&Value::Bool(true)),
            "{name}"
        );
        assert!(
            pod.pointer("/securityContext/runAsUser")
                .and_then(Value::as_u64)
                .is_some_and(|u| u > 0),
            "{name}: runAsUser, numeric (the image names its user, which runAsNonRoot cannot check)"
        );
        assert_eq!(str_at(pod, &["restartPolicy"]), Some("Never"), "{name}");
        if str_at(o, &["kind"]) == Some("Job") {
            let spec = &o["spec"];
            assert!(
                spec["ttlSecondsAfterFinished"].as_u64().is_some(),
                "{name}: ttlSecondsAfterFinished"
            );
            assert!(
                spec["backoffLimit"].as_u64().is_some_and(|b| b <= 1),
                "{name}: backoffLimit 0 or 1"
            );
        }
    }
    for c in &run.containers {
        let image = str_at(c.spec, &["image"]).unwrap();
        assert!(image.starts_with(IMAGE), "{}: image {image}", c.place);
        let policy = str_at(c.spec, &["imagePullPolicy"]);
        assert!(
            matches!(policy, Some("IfNotPresent" | "Never")),
            "{}: imagePullPolicy {policy:?}: the image is loaded into the cluster, not pulled",
            c.place
        );
        assert_eq!(
            c.spec.pointer("/securityContext/allowPrivilegeEscalation"),
            Some(&Value::Bool(false)),
            "{}",
            c.place
        );
        for bound in ["requests", "limits"] {
            for what in ["cpu", "memory"] {
                assert!(
                    c.spec
                        .pointer(&format!("/resources/{bound}/{what}"))
                        .is_some(),
                    "{}: resources.{bound}.{what}",
                    c.place
                );
            }
        }
        for script in (0..c.pods).filter_map(|i| c.script(&run.config, i)) {
            check_script_variables(c, &script);
        }
        // What names /results has the volume there: the one ReadWriteMany claim.
        if list(c.spec, "args")
            .iter()
            .any(|a| a.as_str().unwrap().contains(RESULTS))
        {
            let object = run
                .objects
                .iter()
                .map(|(_, o)| o)
                .find(|o| name_of(o) == c.owner)
                .unwrap();
            let pod = pod_spec(object).unwrap();
            let mount = list(c.spec, "volumeMounts")
                .iter()
                .find(|m| str_at(m, &["mountPath"]) == Some(RESULTS))
                .unwrap_or_else(|| panic!("{}: uses {RESULTS} but does not mount it", c.place));
            let volume = list(pod, "volumes")
                .iter()
                .find(|v| str_at(v, &["name"]) == str_at(mount, &["name"]))
                .unwrap();
            let claim = str_at(volume, &["persistentVolumeClaim", "claimName"])
                .unwrap_or_else(|| panic!("{}: {RESULTS} is not the claim", c.place));
            let pvc = run.object("PersistentVolumeClaim", claim);
            assert!(
                list(&pvc["spec"], "accessModes").contains(&Value::from("ReadWriteMany")),
                "{claim}: ReadWriteMany, for generators on several nodes"
            );
        }
    }
}

#[test]
fn the_generators_share_one_start_and_write_where_the_merge_reads() {
    let objects = objects();
    let run = Run::new(&objects);
    let n = run.generators();
    let folder = run.folder();

    // An Indexed Job of GENERATORS pods, all running at once.
    let job = run.object("Job", GENERATORS);
    assert_eq!(str_at(job, &["spec", "completionMode"]), Some("Indexed"));
    assert_eq!(
        job["spec"]["completions"].as_u64(),
        Some(n as u64),
        "completions == GENERATORS"
    );
    assert_eq!(
        job["spec"]["parallelism"].as_u64(),
        Some(n as u64),
        "parallelism == GENERATORS"
    );

    // Each pod's name and file from its index; one start time, the ConfigMap's.
    let generator = run.generator();
    let raw = generator.raw_args();
    let raw_option = |flag: &str| {
        raw.iter()
            .position(|a| *a == flag)
            .map(|i| raw[i + 1])
            .unwrap_or_else(|| panic!("the generator runs without {flag}"))
    };
    for flag in ["--generator", "--json"] {
        assert!(
            raw_option(flag).contains("$(JOB_COMPLETION_INDEX)"),
            "{flag} {} does not use the pod's JOB_COMPLETION_INDEX",
            raw_option(flag)
        );
    }
    assert_eq!(
        raw_option("--start-at"),
        "$(START_AT)",
        "every generator starts at the ConfigMap's START_AT"
    );
    assert_eq!(generator.env["START_AT"], Source::Config("START_AT".into()));
    let runs = run.generator_runs();
    let outputs = run.outputs();
    let names: BTreeSet<&str> = runs
        .iter()
        .map(|a| option(a, "--generator").unwrap())
        .collect();
    assert_eq!(names.len(), n, "distinct generator names: {names:?}");
    assert_eq!(
        outputs.iter().collect::<BTreeSet<_>>().len(),
        n,
        "distinct outputs: {outputs:?}"
    );
    for (a, out) in runs.iter().zip(&outputs) {
        assert_eq!(subcommand(a), "run");
        assert_eq!(
            option(a, "--start-at"),
            Some(run.config["START_AT"].as_str())
        );
        assert_eq!(
            Path::new(out).parent(),
            Some(Path::new(&folder)),
            "{out} in {folder}"
        );
    }
    let mark = format!("\"{folder}/mode-live\"");
    assert!(
        run.of("Job", GENERATORS)
            .iter()
            .any(|c| c.init && run.script_of(c).contains(&mark)),
        "the generators wait for {mark}"
    );

    // The merge reads exactly what the generators write and writes beside them, out of its own
    // glob; the coordinator's and the merge's waits count those files, GENERATORS of them.
    let merge = run.of("Job", MERGE);
    let merging: Vec<Vec<String>> = merge
        .iter()
        .filter_map(|c| c.pgsyncbench(&run.config, 0, &run.folder_files()))
        .collect();
    assert_eq!(merging.len(), 1, "one merge");
    let merging = &merging[0];
    assert_eq!(subcommand(merging), "merge");
    let inputs: BTreeSet<&String> = merging[1..].iter().take_while(|a| *a != "--json").collect();
    assert_eq!(
        inputs,
        outputs.iter().collect(),
        "the merge reads every generator's result"
    );
    let merged = option(merging, "--json").expect("merge --json");
    assert_eq!(Path::new(merged).parent(), Some(Path::new(&folder)));
    let glob = format!("\"{folder}\"/gen-*.json");
    assert!(
        !wildcard(&format!("{folder}/gen-*.json"), merged),
        "merged.json outside the glob"
    );
    assert!(
        !merge.last().unwrap().init && run.script_of(merge.last().unwrap()).contains(&glob),
        "the merge globs {glob}"
    );
    for waits in [run.of("Job", COORDINATOR), merge] {
        assert!(
            waits.iter().any(|c| c.init
                && run.script_of(c).contains(&format!("set -- {glob}"))
                && run.script_of(c).contains(&format!("-ge \"{n}\""))),
            "{}: waits for GENERATORS files {glob}",
            waits[0].owner
        );
    }
}

#[test]
fn the_coordinator_switches_the_mode_once_and_restores_it() {
    let objects = objects();
    let run = Run::new(&objects);
    let folder = run.folder();
    let coordinator = run.of("Job", COORDINATOR);

    // `cluster apply` in an init container, with the ConfigMap's mode, saving the configuration
    // in the run's folder; `cluster restore` of that file as the pod's last step.
    let (apply_step, apply) = run.apply();
    assert!(
        apply_step.init,
        "apply is an init container, done before what follows"
    );
    assert_eq!(
        option(&apply, "--sync-commit"),
        Some(run.config["SYNC_COMMIT"].as_str())
    );
    let saved = option(&apply, "--save").expect("apply --save, for the restore");
    assert_eq!(Path::new(saved).parent(), Some(Path::new(&folder)));
    let last = coordinator.last().unwrap();
    let restore = last
        .pgsyncbench(&run.config, 0, &[])
        .expect("the coordinator's last step runs pgsyncbench");
    assert!(
        !last.init && subcommand(&restore) == "cluster restore",
        "restore last: {restore:?}"
    );
    assert_eq!(
        option(&restore, "--from"),
        Some(saved),
        "restore what apply saved"
    );
    assert_eq!(option(&restore, "--patroni"), option(&apply, "--patroni"));

    // The handshake through the volume: the folder made before apply, mode-live written
    // (whole, by a rename) after it.
    let mkdir = format!("mkdir \"{folder}\"");
    let mark = format!("mv \"{folder}/mode-live.partial\" \"{folder}/mode-live\"");
    assert!(
        coordinator
            .iter()
            .any(|c| c.step < apply_step.step && run.script_of(c).contains(&mkdir)),
        "the coordinator makes {folder} before apply"
    );
    assert!(
        coordinator
            .iter()
            .any(|c| c.init && c.step > apply_step.step && run.script_of(c).contains(&mark)),
        "the coordinator writes {folder}/mode-live after apply"
    );

    // Nothing else talks to Patroni: the generators measure the mode the coordinator set.
    for c in &run.containers {
        for i in 0..c.pods {
            let Some(a) = c.pgsyncbench(&run.config, i, &run.folder_files()) else {
                continue;
            };
            let patroni = subcommand(&a).starts_with("cluster")
                || option(&a, "--sync-commit").is_some()
                || option(&a, "--patroni").is_some();
            assert!(
                !patroni || c.owner == format!("job/{COORDINATOR}"),
                "{}: only the coordinator talks to Patroni (it switches the mode once)",
                c.place
            );
        }
    }
}

#[test]
fn every_pgsyncbench_command_line_is_one_the_binary_takes() {
    // Each command line with each pod's values, run: the binary takes it (a usage error exits 2)
    // and gets as far as the server, Patroni or its input files, stood in for by a closed port
    // on loopback and a scratch folder for the volume.
    let objects = objects();
    let run = Run::new(&objects);
    let port = closed_port();
    let mut standin = run.config.clone();
    standin.insert("PGHOST".into(), "127.0.0.1".into());
    standin.insert("PGPORT".into(), port.to_string());
    standin.insert("PATRONI_URL".into(), format!("http://127.0.0.1:{port}"));
    let scratch = std::env::temp_dir().join(format!("pgsyncbench-k8s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let volume = |p: &str| match p.strip_prefix(RESULTS) {
        Some(rest) => format!("{}{rest}", scratch.display()),
        None => p.to_string(),
    };
    std::fs::create_dir_all(volume(&run.folder())).unwrap();
    // As `cluster apply --save` would have left it, so the restore reaches Patroni too.
    let (_, apply) = run.apply();
    std::fs::write(
        volume(option(&apply, "--save").unwrap()),
        r#"{"ttl": 30, "loop_wait": 10, "retry_timeout": 10}"#,
    )
    .unwrap();
    let files = run.folder_files();
    let mut tried = Vec::new();
    for c in &run.containers {
        for i in 0..c.pods {
            let Some(argv) = c.pgsyncbench(&standin, i, &files) else {
                continue;
            };
            let argv: Vec<String> = argv.iter().map(|a| volume(a)).collect();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsyncbench"));
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", &scratch)
                .args(&argv)
                .stdin(Stdio::null());
            for (var, source) in &c.env {
                if let Source::Secret { .. } = source {
                    cmd.env(var, format!("not-the-{var}"));
                } else if let Some(v) = c.var(var, &standin, i) {
                    cmd.env(var, v);
                }
            }
            let (code, stderr) = run_with_timeout(cmd, Duration::from_secs(60));
            let what = format!("{} (pod {i}): pgsyncbench {}", c.place, argv.join(" "));
            println!("{what}\n  -> {}", stderr.trim());
            assert_ne!(code, Some(2), "{what}: a usage error: {stderr}");
            assert_eq!(
                code,
                Some(1),
                "{what}: should fail only for want of a server: {stderr}"
            );
            let reached = match subcommand(&argv).as_str() {
                "merge" => stderr.contains(&format!("cannot read {}", argv[1])),
                _ => {
                    stderr.contains(&format!("127.0.0.1:{port}"))
                        || stderr.contains(&format!("port={port}"))
                }
            };
            assert!(
                reached,
                "{what}: did not get as far as the server, Patroni or its inputs: {stderr}"
            );
            tried.push(subcommand(&argv));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    tried.sort();
    let mut expected = vec!["cluster apply", "cluster restore", "init", "merge"];
    expected.extend(std::iter::repeat_n("run", run.generators()));
    expected.sort();
    assert_eq!(tried, expected, "the pgsyncbench commands in docker/k8s/");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn run_with_timeout(mut cmd: Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), reader.join().unwrap());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

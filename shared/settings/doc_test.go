package settings

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// architectureTable parses the "Function environment" table of docs/ARCHITECTURE.md into the
// variables it lists, by function: a row's function cell is a comma-separated list of names or
// "all"; its default cell is a `value`, "required" or "—"; a meaning that starts with "local
// mode only" marks a variable the stack does not set.
func architectureTable(tb testing.TB, functions []string) map[string][]Var {
	tb.Helper()
	doc, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	if err != nil {
		tb.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "\n## Function environment")
	if start < 0 {
		tb.Fatal(`docs/ARCHITECTURE.md has no "## Function environment" section`)
	}
	section := text[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	code := regexp.MustCompile("^`([^`]+)`$")
	out := map[string][]Var{}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 {
			tb.Fatalf("row %q: want the four columns function | variable | default | meaning", line)
		}
		if cells[0] == "function" || strings.HasPrefix(cells[0], "-") {
			continue // header, separator
		}
		rows++
		name := code.FindStringSubmatch(cells[1])
		if name == nil {
			tb.Fatalf("row %q: the variable cell is not one `NAME`", line)
		}
		v := Var{Name: name[1], LocalOnly: strings.HasPrefix(strings.ToLower(cells[3]), "local mode only")}
		switch def := code.FindStringSubmatch(cells[2]); {
		case def != nil:
			v.Default = def[1]
		case cells[2] == "required":
			v.Required = true
		case cells[2] != "—":
			tb.Fatalf("row %q: the default cell is neither a `value`, \"required\" nor \"—\"", line)
		}
		fns := strings.Split(cells[0], ",")
		if cells[0] == "all" {
			fns = functions
		}
		for _, fn := range fns {
			fn = strings.TrimSpace(fn)
			out[fn] = append(out[fn], v)
		}
	}
	if rows == 0 {
		tb.Fatal("no rows in docs/ARCHITECTURE.md's function environment table")
	}
	return out
}

// TestArchitectureTable: docs/ARCHITECTURE.md lists exactly the declared variables of each
// function, with their defaults, which ones are required and which only local mode sets.
func TestArchitectureTable(t *testing.T) {
	declared := Vars()
	functions := slices.Sorted(maps.Keys(declared))
	documented := architectureTable(t, functions)
	if got := slices.Sorted(maps.Keys(documented)); !slices.Equal(got, functions) {
		t.Errorf("the table names functions %v, the declarations %v", got, functions)
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			if got, want := describe(documented[fn]), describe(declared[fn]); !slices.Equal(got, want) {
				t.Errorf("docs/ARCHITECTURE.md lists\n\t%s\nshared/settings declares\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

// describe is vs as sorted one-line descriptions.
func describe(vs []Var) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%s default=%q required=%v localOnly=%v", v.Name, v.Default, v.Required, v.LocalOnly)
	}
	slices.Sort(out)
	return out
}

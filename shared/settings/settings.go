package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Var is one environment variable a function reads.
type Var struct {
	Name string
	// Default is what an unset variable means, written as docs/ARCHITECTURE.md writes it; "" when
	// the variable has none.
	Default string
	// Required: the function refuses to start without it.
	Required bool
	// LocalOnly: only local mode sets it; the CDK stack never does.
	LocalOnly bool
}

// Secret is a setting that is a credential. It formats and logs as "REDACTED", so printing a
// settings struct (fmt, slog, JSON) never shows it; convert it to string or []byte to use it.
type Secret string

// String redacts the secret.
func (Secret) String() string { return "REDACTED" }

// GoString redacts the secret for %#v.
func (Secret) GoString() string { return "REDACTED" }

// LogValue redacts the secret in slog records.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalJSON redacts the secret in JSON, which slog's JSON handler writes structs as.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

// List splits a comma-separated setting, such as SELF_HOSTED_HOSTS, into its non-empty,
// space-trimmed items; nil when there are none.
func List(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// field binds one variable to where its value lives in a function's settings S.
type field[S any] struct {
	Var
	// parse stores value (as read: "" when unset) in s; getenv is there for a rule that depends
	// on the process environment (TMPDIR).
	parse func(s *S, value string, getenv func(string) string) error
	// format is the value that makes parse store what s holds.
	format func(s *S) string
}

// spec is one function's environment.
type spec[S any] struct {
	function string
	fields   []field[S]
	// check, when set, relates fields to each other after every field was parsed.
	check func(s *S) error
}

func (sp *spec[S]) parse(getenv func(string) string) (S, error) {
	var s S
	var errs []error
	for _, f := range sp.fields {
		v := getenv(f.Name)
		if v == "" && f.Required {
			errs = append(errs, fmt.Errorf("%s is required", f.Name))
			continue
		}
		if err := f.parse(&s, v, getenv); err != nil {
			errs = append(errs, err)
		}
	}
	if sp.check != nil {
		if err := sp.check(&s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		var zero S
		return zero, fmt.Errorf("%s: environment: %w", sp.function, err)
	}
	return s, nil
}

// env is every variable of s, the local-only ones only when set.
func (sp *spec[S]) env(s *S) map[string]string {
	out := make(map[string]string, len(sp.fields))
	for _, f := range sp.fields {
		v := f.format(s)
		if f.LocalOnly && v == "" {
			continue
		}
		out[f.Name] = v
	}
	return out
}

func (sp *spec[S]) vars() []Var {
	out := make([]Var, len(sp.fields))
	for i, f := range sp.fields {
		out[i] = f.Var
	}
	return out
}

// text is a string variable; unset means def.
func text[S any](v Var, at func(*S) *string) field[S] {
	return field[S]{Var: v,
		parse: func(s *S, value string, _ func(string) string) error {
			if value == "" {
				value = v.Default
			}
			*at(s) = value
			return nil
		},
		format: func(s *S) string { return *at(s) },
	}
}

// secret is a string variable that is a credential.
func secret[S any](v Var, at func(*S) *Secret) field[S] {
	return field[S]{Var: v,
		parse:  func(s *S, value string, _ func(string) string) error { *at(s) = Secret(value); return nil },
		format: func(s *S) string { return string(*at(s)) },
	}
}

// duration is a positive Go duration; unset means def. A zero duration in the settings formats
// as unset, so it stands for the default too.
func duration[S any](name string, def time.Duration, at func(*S) *time.Duration) field[S] {
	return field[S]{Var: Var{Name: name, Default: formatDuration(def)},
		parse: func(s *S, value string, _ func(string) string) error {
			*at(s) = def
			if value == "" {
				return nil
			}
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q is not a positive Go duration", name, value)
			}
			*at(s) = d
			return nil
		},
		format: func(s *S) string { return formatDuration(*at(s)) },
	}
}

// list is a comma-separated list (List); unset means none.
func list[S any](name string, at func(*S) *[]string) field[S] {
	return field[S]{Var: Var{Name: name},
		parse:  func(s *S, value string, _ func(string) string) error { *at(s) = List(value); return nil },
		format: func(s *S) string { return strings.Join(*at(s), ",") },
	}
}

// formatDuration is d as time.ParseDuration reads it, without zero trailing units ("5m", not
// "5m0s"); "" for zero.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

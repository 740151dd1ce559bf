// Package option reads the WITH options of a source or sink: it resolves
// `env:NAME` references from the environment, rejects unknown options, and
// parses counts, durations, booleans and enumerations with errors that name
// the option and say what would be right.
//
// Every connector reads its options through one Set, bound to the
// connector's declaration (package connector): the options it knows, their
// types, bounds and defaults come from there, so that what the planner
// checks, what the docs say and what the connector uses are one thing.
package option

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/secret"
)

// EnvPrefix marks an option value that names an environment variable.
const EnvPrefix = "env:"

// Set is the options of one source or sink, resolved. Getters record the
// first problem with each option instead of returning it, so a connector
// reads all its options and then reports every mistake at once with Err.
type Set struct {
	decl    *connector.Connector
	kind    connector.Kind
	values  map[string]string
	fromEnv map[string]string // option → the variable it came from
	sealed  map[string]bool   // options given sealed (see package secret)
	errs    []error
}

// Resolve resolves env: references in opts and checks that every option is
// one the connector declares for role kind (or starts with its per-column
// prefix, as datagen's fields.<column>.<setting>). The option "connector"
// is always admitted: it chose the connector.
func Resolve(opts map[string]string, decl *connector.Connector, kind connector.Kind) (*Set, error) {
	known := decl.OptionNames(kind)[1:]
	if decl.PerColumnPrefix != "" {
		known[len(known)-1] = decl.PerColumnPrefix + "*"
	}
	s := &Set{decl: decl, kind: kind, values: make(map[string]string, len(opts)), fromEnv: map[string]string{}, sealed: map[string]bool{}}
	var errs []error
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := opts[k]
		name := strings.ToLower(k)
		if name != "connector" && !isKnown(name, known) {
			errs = append(errs, fmt.Errorf("unknown option %q (known: %s)", k, strings.Join(known, ", ")))
			continue
		}
		if env, ok := strings.CutPrefix(v, EnvPrefix); ok {
			ev, set := os.LookupEnv(env)
			if !set {
				errs = append(errs, fmt.Errorf("option %s = 'env:%s': environment variable %s is not set", name, env, env))
				continue
			}
			s.fromEnv[name] = env
			v = ev
		} else if secret.IsSealed(v) {
			// Sealed by the server so that its catalog holds no secret
			// in clear text.
			clear, err := secret.Open(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("option %s: %w", name, err))
				continue
			}
			s.sealed[name] = true
			v = clear
		}
		s.values[name] = v
	}
	return s, errors.Join(errs...)
}

// option returns the declaration of an option the connector reads. Reading
// an undeclared option is a mistake in the connector.
func (s *Set) option(name string, t connector.Type) *connector.Option {
	o, ok := s.decl.Option(name, s.kind)
	if !ok || o.Type != t {
		panic(fmt.Sprintf("option: connector %s reads %s option %s, which it does not declare so", s.decl.Name, t, name))
	}
	return o
}

// value returns the option as given, else its declared default; given is
// false for the default.
func (s *Set) value(o *connector.Option) (v string, given bool) {
	if v, ok := s.values[o.Name]; ok {
		return strings.TrimSpace(v), true
	}
	return o.Default, false
}

func isKnown(name string, known []string) bool {
	for _, k := range known {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(name, p) || k == name {
			return true
		}
	}
	return false
}

// Err returns every problem the getters found, or nil.
func (s *Set) Err() error { return errors.Join(s.errs...) }

// Has reports whether the option was given.
func (s *Set) Has(name string) bool {
	_, ok := s.values[name]
	return ok
}

// Value returns a per-column option (one under the declared per-column
// prefix) as given.
func (s *Set) Value(name string) string { return s.values[name] }

// Names returns the given options whose names start with prefix, sorted.
func (s *Set) Names(prefix string) []string {
	var out []string
	for k := range s.values {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// show renders an option's value for an error message. Secrets and values
// read from the environment are not repeated: error messages end up in logs
// and in the editor.
func (s *Set) show(name string) string {
	if env, ok := s.fromEnv[name]; ok {
		return "'env:" + env + "'"
	}
	// A sealed value is open here: the same rule masks it.
	v := secret.MaskValue(name, s.values[name])
	if v == secret.Masked {
		return "'…'"
	}
	return "'" + v + "'"
}

func (s *Set) fail(name, want string) {
	s.errs = append(s.errs, fmt.Errorf("option %s = %s: %s", name, s.show(name), want))
}

// String returns the option as given, else its declared default ("" when
// the default is computed: the connector computes it).
func (s *Set) String(name string) string {
	o := s.option(name, connector.String)
	if v, ok := s.values[name]; ok {
		return v
	}
	return o.Default
}

// Required returns the option, recording an error when it is missing or empty.
func (s *Set) Required(name, example string) string {
	s.option(name, connector.String)
	v, ok := s.values[name]
	if !ok || strings.TrimSpace(v) == "" {
		s.errs = append(s.errs, fmt.Errorf("option %s is required (for example %s = '%s')", name, name, example))
	}
	return v
}

// Count returns a count option, within its declared bounds.
func (s *Set) Count(name string) int64 {
	o := s.option(name, connector.Count)
	def, _ := strconv.ParseInt(o.Default, 10, 64)
	v, given := s.value(o)
	if !given {
		return def
	}
	hi := o.Max
	if hi == 0 {
		hi = math.MaxInt64
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < o.Min || n > hi {
		s.fail(name, fmt.Sprintf("want a whole number from %d to %d, such as '%d'", o.Min, hi, def))
		return def
	}
	return n
}

// Ratio returns a ratio option, a number from 0 to 1.
func (s *Set) Ratio(name string) float64 {
	o := s.option(name, connector.Ratio)
	def, _ := strconv.ParseFloat(o.Default, 64)
	v, given := s.value(o)
	if !given {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		s.fail(name, fmt.Sprintf("want a number from 0 to 1, such as '%g'", def))
		return def
	}
	return f
}

// Duration returns a duration option, in Go syntax ('500ms', '1s', '5m',
// '1h30m'); it must be positive, or '0' where the option allows turning
// it off.
func (s *Set) Duration(name string) time.Duration {
	o := s.option(name, connector.Duration)
	def, _ := o.ParseDuration(o.Default)
	v, given := s.value(o)
	if !given {
		return def
	}
	d, err := o.ParseDuration(v)
	if err != nil {
		if o.ZeroOff {
			s.fail(name, "want a duration such as '1h' or '24h', or '0' for no limit")
		} else {
			s.fail(name, "want a duration greater than 0 such as '500ms', '1s' or '5m'")
		}
		return def
	}
	return d
}

// Bool returns a boolean option ('true' or 'false').
func (s *Set) Bool(name string) bool {
	o := s.option(name, connector.Bool)
	def := strings.EqualFold(o.Default, "true")
	v, given := s.value(o)
	if !given {
		return def
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	s.fail(name, "want 'true' or 'false'")
	return def
}

// Enum returns an enumeration option in the spelling of its declared
// values (compared without case).
func (s *Set) Enum(name string) string {
	o := s.option(name, connector.Enum)
	v, given := s.value(o)
	if c := o.Canonical(v); c != "" {
		return c
	}
	if given {
		s.fail(name, "want one of '"+strings.Join(o.Values, "', '")+"'")
	}
	return o.Default
}

// Errorf records a problem found by the connector itself with an option's
// value, in the same form as the getters' errors.
func (s *Set) Errorf(name, format string, args ...any) {
	s.fail(name, fmt.Sprintf(format, args...))
}

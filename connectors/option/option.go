// Package option reads the WITH options of a source or sink: it resolves
// `env:NAME` references from the environment, rejects unknown options, and
// parses counts, durations, booleans and enumerations with errors that name
// the option and say what would be right.
//
// Every connector reads its options through one Set, so that all of them
// accept the same spellings and report mistakes the same way.
package option

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/secret"
)

// EnvPrefix marks an option value that names an environment variable.
const EnvPrefix = "env:"

// Set is the options of one source or sink, resolved. Getters record the
// first problem with each option instead of returning it, so a connector
// reads all its options and then reports every mistake at once with Err.
type Set struct {
	values  map[string]string
	fromEnv map[string]string // option → the variable it came from
	sealed  map[string]bool   // options given sealed (see package secret)
	errs    []error
}

// Resolve resolves env: references in opts and checks that every option is
// one of known. A known name ending in ".*" admits every option with that
// prefix (datagen's fields.<column>.<setting>). The option "connector" is
// always admitted: it chose the connector.
func Resolve(opts map[string]string, known ...string) (*Set, error) {
	s := &Set{values: make(map[string]string, len(opts)), fromEnv: map[string]string{}, sealed: map[string]bool{}}
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

// String returns the option, or def when it is not given.
func (s *Set) String(name, def string) string {
	if v, ok := s.values[name]; ok {
		return v
	}
	return def
}

// Required returns the option, recording an error when it is missing or empty.
func (s *Set) Required(name, example string) string {
	v, ok := s.values[name]
	if !ok || strings.TrimSpace(v) == "" {
		s.errs = append(s.errs, fmt.Errorf("option %s is required (for example %s = '%s')", name, name, example))
	}
	return v
}

// Int returns the option as an integer in [min, max], or def.
func (s *Set) Int(name string, def, min, max int64) int64 {
	v, ok := s.values[name]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < min || n > max {
		s.fail(name, fmt.Sprintf("want a whole number from %d to %d, such as '%d'", min, max, def))
		return def
	}
	return n
}

// Float returns the option as a number in [min, max], or def.
func (s *Set) Float(name string, def, min, max float64) float64 {
	v, ok := s.values[name]
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < min || f > max || f != f {
		s.fail(name, fmt.Sprintf("want a number from %g to %g, such as '%g'", min, max, def))
		return def
	}
	return f
}

// Duration returns the option as a duration of at least min, or def. Go
// duration syntax ('500ms', '1s', '5m', '1h30m'); a bare '0' means zero.
func (s *Set) Duration(name string, def, min time.Duration) time.Duration {
	v, ok := s.values[name]
	if !ok {
		return def
	}
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		s.fail(name, fmt.Sprintf("want a duration of at least %v such as '500ms', '1s' or '5m'", min))
		return def
	}
	return d
}

// Bool returns the option as a boolean ('true' or 'false'), or def.
func (s *Set) Bool(name string, def bool) bool {
	v, ok := s.values[name]
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	s.fail(name, "want 'true' or 'false'")
	return def
}

// OneOf returns the option in the spelling of allowed when it is one of them
// (compared case-insensitively), or def when it is not given.
func (s *Set) OneOf(name, def string, allowed ...string) string {
	v, ok := s.values[name]
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			return a
		}
	}
	s.fail(name, "want one of '"+strings.Join(allowed, "', '")+"'")
	return def
}

// Errorf records a problem found by the connector itself with an option's
// value, in the same form as the getters' errors.
func (s *Set) Errorf(name, format string, args ...any) {
	s.fail(name, fmt.Sprintf(format, args...))
}

package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

// role is what an object does with a connector.
type role = connector.Kind

const (
	roleSource = connector.Source
	roleSink   = connector.Sink
)

// The connectors and their options are declared by the connector packages
// (see package connector); cmd/sluice registers them. A value written as
// env:NAME is read from the server's environment at run time and is not
// checked here.

// knownPipelineOption tells whether k names a pipeline option (declared
// in connector.PipelineOptions).
func knownPipelineOption(k string) bool {
	_, ok := connector.PipelineOption(k)
	return ok
}

// checkPipelineOption checks the value of a known pipeline option as
// checkOptions does a connector's.
func checkPipelineOption(o sql.Option, errs *sql.ErrorList) {
	os, _ := connector.PipelineOption(o.Key.Name)
	checkValue(o, os, errs)
}

// checkValue checks the value written for a declared option, unless it is
// read from the environment at run time (env:NAME). A wrong enum value is
// offered the closest allowed value, else each of them, as quick fixes.
func checkValue(o sql.Option, os *connector.Option, errs *sql.ErrorList) {
	if strings.HasPrefix(o.Value, connector.EnvPrefix) {
		return
	}
	msg, hint := os.Check(o.Value)
	if msg == "" {
		return
	}
	err := errs.Add(o.ValuePos, hint, "option %s: %s", o.Key.Name, msg)
	if os.Type == connector.Enum {
		vs := sql.Suggest(o.Value, os.Values)
		if len(vs) == 0 {
			vs = os.Values
		}
		for _, v := range vs {
			replaceWith(err, sql.QuoteString(v), v)
		}
	}
}

// checkedOptions is a validated WITH list.
type checkedOptions struct {
	connector string
	values    map[string]string // every option but connector, lower-case keys
	// perColumn holds per-column settings (datagen's fields.<col>.<key>),
	// keyed by column name as written.
	perColumn map[string]map[string]string
	perPos    map[string]sql.Pos
}

// duration returns a duration option of the connector as in force: the
// value given, else the declared default. ok is false when the connector
// has no such option, or the value is read from the environment at run
// time.
func (c checkedOptions) duration(name string, r role) (time.Duration, bool) {
	spec, ok := connector.Lookup(c.connector)
	if !ok {
		return 0, false
	}
	o, ok := spec.Option(name, r)
	if !ok {
		return 0, false
	}
	v, given := c.values[name]
	if !given {
		v = o.Default
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	return d, err == nil
}

// checkOptions validates the WITH list of a source or sink: the connector
// exists and plays the role, every option is known to it, and values that
// are counts, durations or booleans parse.
func checkOptions(opts []sql.Option, r role, at sql.Pos, errs *sql.ErrorList) (checkedOptions, bool) {
	out := checkedOptions{values: map[string]string{}}
	n := len(*errs)
	seen := map[string]bool{}
	var connPos sql.Pos
	for _, o := range opts {
		k := strings.ToLower(o.Key.Name)
		if seen[k] {
			errs.AddNode(o.Key, "", "option %s is given twice", o.Key.Name)
			continue
		}
		seen[k] = true
		if k == "connector" {
			out.connector = strings.ToLower(o.Value)
			connPos = o.ValuePos
		}
	}
	if out.connector == "" {
		errs.Add(at, fmt.Sprintf("add WITH (connector = '…'); %s connectors: %s", r, strings.Join(connector.Names(r), ", ")), "%s has no connector option", r)
		return out, false
	}
	spec, ok := connector.Lookup(out.connector)
	if !ok {
		hint := fmt.Sprintf("%s connectors: %s", r, strings.Join(connector.Names(r), ", "))
		s := sql.Suggest(out.connector, connector.Names(r))
		if len(s) > 0 {
			hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
		}
		err := errs.Add(connPos, hint, "unknown connector %q", out.connector)
		if len(s) > 0 {
			replaceWith(err, sql.QuoteString(s[0]), s[0])
		}
		return out, false
	}
	if !spec.Plays(r) {
		errs.Add(connPos, fmt.Sprintf("%s connectors: %s", r, strings.Join(connector.Names(r), ", ")), "connector %q cannot be a %s", out.connector, r)
		return out, false
	}
	seen = map[string]bool{}
	for _, o := range opts {
		k := strings.ToLower(o.Key.Name)
		if k == "connector" || seen[k] {
			continue
		}
		seen[k] = true
		if spec.PerColumnPrefix != "" && strings.HasPrefix(k, spec.PerColumnPrefix) {
			col, setting, ok := strings.Cut(o.Key.Name[len(spec.PerColumnPrefix):], ".")
			if !ok || col == "" || setting == "" {
				errs.AddNode(o.Key, "write "+spec.PerColumnPrefix+"<column>.<setting>", "option %s names no column and setting", o.Key.Name)
				continue
			}
			if out.perColumn == nil {
				out.perColumn, out.perPos = map[string]map[string]string{}, map[string]sql.Pos{}
			}
			if out.perColumn[col] == nil {
				out.perColumn[col] = map[string]string{}
				out.perPos[col] = o.Key.P
			}
			out.perColumn[col][strings.ToLower(setting)] = o.Value
			continue
		}
		os, ok := spec.Option(k, r)
		if !ok {
			names := spec.OptionNames(r)
			hint := fmt.Sprintf("options of %s: %s", out.connector, strings.Join(names, ", "))
			s := sql.Suggest(k, names)
			if len(s) > 0 {
				hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
			}
			err := errs.AddNode(o.Key, hint, "unknown option %s for connector %s", o.Key.Name, out.connector)
			if len(s) > 0 {
				replaceWith(err, optionKey(s[0]), s[0])
			}
			continue
		}
		out.values[k] = o.Value
		checkValue(o, os, errs)
	}
	for _, o := range spec.OptionsFor(r) {
		if _, ok := out.values[o.Name]; o.Required && !ok {
			errs.Add(at, fmt.Sprintf("add %s = '…' to the WITH list", o.Name), "connector %s needs the option %s", out.connector, o.Name)
		}
	}
	return out, len(*errs) == n
}

// maskOptions renders a WITH list with secrets hidden, for SHOW, DESCRIBE
// and EXPLAIN, by Sluice's one masking rule (secret.MaskValue).
func maskOptions(opts map[string]string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = '%s'", k, strings.ReplaceAll(secret.MaskValue(k, opts[k]), "'", "''"))
	}
	return b.String()
}

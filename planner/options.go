package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/sql"
)

// role is what an object does with a connector.
type role string

const (
	roleSource role = "source"
	roleSink   role = "sink"
)

// optKind says how an option value is checked.
type optKind uint8

const (
	optText optKind = iota
	optCount
	optDuration
	optBool
	optRatio
	optEnum
)

type optSpec struct {
	kind   optKind
	values []string // optEnum
	// zeroOff: the duration '0' is allowed and turns the option off.
	zeroOff bool
}

type connectorSpec struct {
	roles    []role
	options  map[string]optSpec
	required []string
	// perColumn is the prefix of per-column options, "" when none.
	perColumn string
}

// connectors is SQL.md's options table. A value written as env:NAME is read
// from the server's environment at run time and is not checked here.
var connectors = map[string]connectorSpec{
	"kafka": {
		roles: []role{roleSource, roleSink},
		options: map[string]optSpec{
			"brokers": {}, "topic": {},
			"format":            {kind: optEnum, values: []string{"json"}},
			"group_id":          {},
			"start":             {kind: optEnum, values: []string{"earliest", "latest"}},
			"idle_timeout":      {kind: optDuration},
			"max_future":        {kind: optDuration, zeroOff: true},
			"security_protocol": {kind: optEnum, values: []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}},
			"sasl_mechanism":    {kind: optEnum, values: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}},
			"sasl_username":     {}, "sasl_password": {}, "tls_ca": {}, "dlq_topic": {},
			// key is for sinks: the column whose value keys each record.
			"key": {},
		},
		required: []string{"brokers", "topic"},
	},
	"clickhouse": {
		roles: []role{roleSink},
		options: map[string]optSpec{
			"url": {}, "table": {}, "user": {}, "password": {},
			"batch_size":     {kind: optCount},
			"flush_interval": {kind: optDuration},
			"create_table":   {kind: optBool},
		},
		required: []string{"url"},
	},
	"postgres": {
		roles: []role{roleSink},
		options: map[string]optSpec{
			"url": {}, "table": {},
			"batch_size":     {kind: optCount},
			"flush_interval": {kind: optDuration},
			"create_table":   {kind: optBool},
		},
		required: []string{"url"},
	},
	"datagen": {
		roles: []role{roleSource},
		options: map[string]optSpec{
			"rows_per_second": {kind: optCount},
			"duplicate_ratio": {kind: optRatio},
			"seed":            {kind: optCount},
			"rows":            {kind: optCount},
			"partitions":      {kind: optCount},
			"idle_timeout":    {kind: optDuration},
			"max_future":      {kind: optDuration, zeroOff: true},
		},
		perColumn: "fields.",
	},
	"file": {
		roles:    []role{roleSink},
		options:  map[string]optSpec{"path": {}},
		required: []string{"path"},
	},
}

// pipelineOptions are the options of CREATE PIPELINE … WITH.
var pipelineOptions = []string{"description"}

// secretOptions are never shown by SHOW, DESCRIBE or EXPLAIN.
var secretOptions = map[string]bool{"password": true, "sasl_password": true}

func connectorsFor(r role) []string {
	var out []string
	for name, c := range connectors {
		if slices.Contains(c.roles, r) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (c connectorSpec) optionNames() []string {
	out := []string{"connector"}
	for k := range c.options {
		out = append(out, k)
	}
	slices.Sort(out[1:])
	if c.perColumn != "" {
		out = append(out, c.perColumn+"<column>.<setting>")
	}
	return out
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
			errs.Add(o.Key.P, "", "option %s is given twice", o.Key.Name)
			continue
		}
		seen[k] = true
		if k == "connector" {
			out.connector = strings.ToLower(o.Value)
			connPos = o.ValuePos
		}
	}
	if out.connector == "" {
		errs.Add(at, fmt.Sprintf("add WITH (connector = '…'); %s connectors: %s", r, strings.Join(connectorsFor(r), ", ")), "%s has no connector option", r)
		return out, false
	}
	spec, ok := connectors[out.connector]
	if !ok {
		hint := fmt.Sprintf("%s connectors: %s", r, strings.Join(connectorsFor(r), ", "))
		if s := sql.Suggest(out.connector, connectorsFor(r)); len(s) > 0 {
			hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
		}
		errs.Add(connPos, hint, "unknown connector %q", out.connector)
		return out, false
	}
	if !slices.Contains(spec.roles, r) {
		errs.Add(connPos, fmt.Sprintf("%s connectors: %s", r, strings.Join(connectorsFor(r), ", ")), "connector %q cannot be a %s", out.connector, r)
		return out, false
	}
	seen = map[string]bool{}
	for _, o := range opts {
		k := strings.ToLower(o.Key.Name)
		if k == "connector" || seen[k] {
			continue
		}
		seen[k] = true
		if spec.perColumn != "" && strings.HasPrefix(k, spec.perColumn) {
			col, setting, ok := strings.Cut(o.Key.Name[len(spec.perColumn):], ".")
			if !ok || col == "" || setting == "" {
				errs.Add(o.Key.P, "write "+spec.perColumn+"<column>.<setting>", "option %s names no column and setting", o.Key.Name)
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
		os, ok := spec.options[k]
		if !ok {
			hint := fmt.Sprintf("options of %s: %s", out.connector, strings.Join(spec.optionNames(), ", "))
			if s := sql.Suggest(k, spec.optionNames()); len(s) > 0 {
				hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
			}
			errs.Add(o.Key.P, hint, "unknown option %s for connector %s", o.Key.Name, out.connector)
			continue
		}
		out.values[k] = o.Value
		if strings.HasPrefix(o.Value, "env:") {
			continue
		}
		if msg, hint := checkValue(os, o.Value); msg != "" {
			errs.Add(o.ValuePos, hint, "option %s: %s", o.Key.Name, msg)
		}
	}
	for _, k := range spec.required {
		if _, ok := out.values[k]; !ok {
			errs.Add(at, fmt.Sprintf("add %s = '…' to the WITH list", k), "connector %s needs the option %s", out.connector, k)
		}
	}
	return out, len(*errs) == n
}

func checkValue(s optSpec, v string) (msg, hint string) {
	switch s.kind {
	case optCount:
		if n, err := strconv.ParseUint(v, 10, 63); err != nil || n == 0 {
			return fmt.Sprintf("%q is not a positive count", v), "write digits, e.g. '10000'"
		}
	case optDuration:
		if s.zeroOff && v == "0" {
			break
		}
		if d, err := time.ParseDuration(v); err != nil || d < 0 || (d == 0 && !s.zeroOff) {
			if s.zeroOff {
				return fmt.Sprintf("%q is not a duration", v), "write e.g. '1h' or '24h', or '0' for no limit"
			}
			return fmt.Sprintf("%q is not a positive duration", v), "write e.g. '500ms', '1s' or '5m'"
		}
	case optBool:
		if v != "true" && v != "false" {
			return fmt.Sprintf("%q is not a boolean", v), "write 'true' or 'false'"
		}
	case optRatio:
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
			return fmt.Sprintf("%q is not a ratio", v), "write a number from 0 to 1, e.g. '0.1'"
		}
	case optEnum:
		for _, ok := range s.values {
			if strings.EqualFold(ok, v) {
				return "", ""
			}
		}
		return fmt.Sprintf("%q is not one of %s", v, strings.Join(s.values, ", ")), ""
	}
	return "", ""
}

// maskOptions renders a WITH list with secrets hidden, for SHOW, DESCRIBE
// and EXPLAIN. An env: reference is not a secret and is shown.
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
		v := opts[k]
		if secretOptions[k] && !strings.HasPrefix(v, "env:") {
			v = "****"
		} else if u, ok := maskURLPassword(v); ok {
			v = u
		}
		fmt.Fprintf(&b, "%s = '%s'", k, strings.ReplaceAll(v, "'", "''"))
	}
	return b.String()
}

// maskURLPassword hides the password of a URL with user info
// (postgres://me:secret@db/x); ok is false when v has none.
func maskURLPassword(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || strings.HasPrefix(v, "env:") {
		return v, false
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok || strings.Contains(userinfo, "/") {
		return v, false
	}
	user, _, hasPass := strings.Cut(userinfo, ":")
	if !hasPass {
		return v, false
	}
	return scheme + "://" + user + ":****@" + host, true
}

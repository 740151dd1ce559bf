// Package connector holds what each connector declares about itself: the
// roles it plays, its options (type, default, whether required or secret,
// one line of documentation, allowed values), the formats it reads and
// writes, its per-column option prefix and the pseudo-columns its sources
// provide.
//
// It is a leaf: it imports nothing of Sluice, so the planner checks WITH
// lists through it, the web API serves it and the docs are generated from
// it, without any of them importing a connector or the runtime. A connector
// package declares itself with a Connector value; the runtime's Register
// (called once per connector from connectors/all) records the declaration
// here together with the connector's typed factories, as database/sql
// drivers register themselves by name.
package connector

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a role a connector plays.
type Kind string

const (
	Source Kind = "source"
	Sink   Kind = "sink"
)

// Type says how an option's value is written and checked.
type Type string

const (
	String   Type = "string"   // any text
	Count    Type = "count"    // a whole number from Min to Max
	Duration Type = "duration" // a positive Go duration: '500ms', '1s', '5m'
	Bool     Type = "bool"     // 'true' or 'false'
	Ratio    Type = "ratio"    // a number from 0 to 1
	Enum     Type = "enum"     // one of Values, compared without case
	URL      Type = "url"      // an http:// or https:// URL
)

// EnvPrefix marks a value that names an environment variable of the
// server, read when the connector opens; such a value is not checked
// before then.
const EnvPrefix = "env:"

// Option declares one WITH option.
type Option struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	// Default is the value in force when the option is not given, written
	// as a user would write it; "" when there is none or it is computed
	// (DefaultText then says how).
	Default string `json:"default"`
	// DefaultText describes a computed default for the docs, such as
	// "`<topic>.dlq`"; "" when Default says it all.
	DefaultText string `json:"default_text,omitempty"`
	Required    bool   `json:"required"`
	// Secret options are never shown by SHOW, DESCRIBE or EXPLAIN.
	Secret bool `json:"secret"`
	// Doc is one line for users.
	Doc string `json:"doc"`
	// Values are the allowed values of an Enum.
	Values []string `json:"values,omitempty"`
	// Kinds are the roles the option applies to; nil means every role of
	// the connector.
	Kinds []Kind `json:"kinds,omitempty"`
	// Min and Max bound a Count (Max 0 means no bound but the int64 range).
	Min int64 `json:"min,omitempty"`
	Max int64 `json:"max,omitempty"`
	// ZeroOff allows the Duration '0', which turns the option off.
	ZeroOff bool `json:"zero_off,omitempty"`
}

// Connector declares one connector.
type Connector struct {
	Name  string `json:"name"`
	Doc   string `json:"doc"` // one line
	Kinds []Kind `json:"kinds"`
	// Formats are the record formats the connector reads or writes.
	Formats []string `json:"formats,omitempty"`
	// PerColumnPrefix starts per-column options (datagen's "fields."),
	// written <prefix><column>.<setting>; "" when there are none.
	PerColumnPrefix string `json:"per_column_prefix,omitempty"`
	// Pseudo names the pseudo-columns its sources provide (see
	// planner/dag.PseudoColumns).
	Pseudo  []string `json:"pseudo_columns,omitempty"`
	Options []Option `json:"options"`
	// ColumnNameRefuses holds the characters a sink of this connector
	// cannot write in a column name, and ColumnNameWhy says why; the
	// planner refuses such a name where it is given. "" when any name
	// works.
	ColumnNameRefuses string `json:"column_name_refuses,omitempty"`
	ColumnNameWhy     string `json:"column_name_why,omitempty"`
	// Continuous is true for a sink that writes rows as the operators
	// produce them (Kafka, a file, standard output) and makes them durable
	// at each checkpoint; false (the default) for one that writes in
	// batches of batch_size rows or every flush_interval, each write
	// followed by a checkpoint (ClickHouse, PostgreSQL). See
	// docs/delivery.md.
	Continuous bool `json:"continuous,omitempty"`
}

// RefusedInColumnName returns the first character of name that a sink of
// c cannot write in a column name, and false when there is none.
func (c *Connector) RefusedInColumnName(name string) (rune, bool) {
	if i := strings.IndexAny(name, c.ColumnNameRefuses); c.ColumnNameRefuses != "" && i >= 0 {
		r := []rune(name[i:])[0]
		return r, true
	}
	return 0, false
}

var registry struct {
	sync.RWMutex
	byName map[string]*Connector
}

// Register records a declaration. It panics when the name is taken or the
// declaration is malformed: both are programming errors found at start-up.
func Register(c Connector) {
	c.Options = slices.Clone(c.Options)
	if err := c.validate(); err != nil {
		panic("connector: " + err.Error())
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.byName == nil {
		registry.byName = map[string]*Connector{}
	}
	if _, dup := registry.byName[c.Name]; dup {
		panic("connector: " + c.Name + " registered twice")
	}
	registry.byName[c.Name] = &c
}

func (c *Connector) validate() error {
	if c.Name == "" || c.Name != strings.ToLower(c.Name) {
		return fmt.Errorf("name %q must be lower case and not empty", c.Name)
	}
	if len(c.Kinds) == 0 {
		return fmt.Errorf("%s has no kinds", c.Name)
	}
	seen := map[string]bool{}
	for i := range c.Options {
		o := &c.Options[i]
		if o.Name == "" || o.Name != strings.ToLower(o.Name) || o.Name == "connector" || seen[o.Name] {
			return fmt.Errorf("%s: bad or repeated option name %q", c.Name, o.Name)
		}
		seen[o.Name] = true
		switch o.Type {
		case String, Count, Duration, Bool, Ratio, URL:
		case Enum:
			if len(o.Values) == 0 {
				return fmt.Errorf("%s: enum option %s has no values", c.Name, o.Name)
			}
		default:
			return fmt.Errorf("%s: option %s has unknown type %q", c.Name, o.Name, o.Type)
		}
		if o.Type == Count && o.Max == 0 {
			o.Max = math.MaxInt64
		}
		for _, k := range o.Kinds {
			if !slices.Contains(c.Kinds, k) {
				return fmt.Errorf("%s: option %s applies to %s, which the connector is not", c.Name, o.Name, k)
			}
		}
		if o.Default != "" {
			if msg, _ := o.Check(o.Default); msg != "" {
				return fmt.Errorf("%s: default of option %s: %s", c.Name, o.Name, msg)
			}
		}
	}
	return nil
}

// Lookup returns the declaration of a connector.
func Lookup(name string) (*Connector, bool) {
	registry.RLock()
	defer registry.RUnlock()
	c, ok := registry.byName[strings.ToLower(name)]
	return c, ok
}

// All returns every declaration, sorted by name.
func All() []*Connector {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]*Connector, 0, len(registry.byName))
	for _, c := range registry.byName {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Connector) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names returns the names of the connectors that play role k, sorted.
func Names(k Kind) []string {
	var out []string
	for _, c := range All() {
		if c.Plays(k) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Plays reports whether the connector plays role k.
func (c *Connector) Plays(k Kind) bool { return slices.Contains(c.Kinds, k) }

// AppliesTo reports whether the option applies to role k.
func (o *Option) AppliesTo(k Kind) bool { return len(o.Kinds) == 0 || slices.Contains(o.Kinds, k) }

// Option returns the option name of role k.
func (c *Connector) Option(name string, k Kind) (*Option, bool) {
	for i := range c.Options {
		if o := &c.Options[i]; o.Name == name && o.AppliesTo(k) {
			return o, true
		}
	}
	return nil, false
}

// OptionsFor returns the options of role k, in declaration order.
func (c *Connector) OptionsFor(k Kind) []*Option {
	var out []*Option
	for i := range c.Options {
		if o := &c.Options[i]; o.AppliesTo(k) {
			out = append(out, o)
		}
	}
	return out
}

// OptionNames lists what may be written in a WITH list of role k:
// "connector", the options sorted, then the per-column pattern if any.
func (c *Connector) OptionNames(k Kind) []string {
	var out []string
	for _, o := range c.OptionsFor(k) {
		out = append(out, o.Name)
	}
	slices.Sort(out)
	out = append([]string{"connector"}, out...)
	if c.PerColumnPrefix != "" {
		out = append(out, c.PerColumnPrefix+"<column>.<setting>")
	}
	return out
}

// Check checks a value written for the option (not an env: reference):
// msg says what is wrong, "" when nothing is; hint says what would be right.
func (o *Option) Check(v string) (msg, hint string) {
	v = strings.TrimSpace(v)
	switch o.Type {
	case Count:
		lo, hi := o.Min, o.Max
		if hi == 0 {
			hi = math.MaxInt64
		}
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err == nil && n > hi:
			return fmt.Sprintf("%q is more than %d", v, hi), fmt.Sprintf("write a count from %d to %d", lo, hi)
		case err == nil && n >= lo:
		case lo == 1:
			return fmt.Sprintf("%q is not a positive count", v), "write digits, e.g. '10000'"
		case lo == 0:
			return fmt.Sprintf("%q is not a count", v), "write digits, e.g. '0' or '10000'"
		default:
			return fmt.Sprintf("%q is not a whole number from %d to %d", v, lo, hi), "write digits"
		}
	case Duration:
		if d, err := time.ParseDuration(v); o.ZeroOff && (v == "0" || err == nil && d >= 0) {
			break
		} else if o.ZeroOff {
			return fmt.Sprintf("%q is not a duration", v), "write e.g. '1h' or '24h', or '0' for no limit"
		} else if err != nil || d <= 0 {
			return fmt.Sprintf("%q is not a positive duration", v), "write e.g. '500ms', '1s' or '5m'"
		}
	case Bool:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Sprintf("%q is not a boolean", v), "write 'true' or 'false'"
		}
	case Ratio:
		if f, err := strconv.ParseFloat(v, 64); err != nil || !(f >= 0 && f <= 1) {
			return fmt.Sprintf("%q is not a ratio", v), "write a number from 0 to 1, e.g. '0.1'"
		}
	case Enum:
		if o.Canonical(v) == "" {
			return fmt.Sprintf("%q is not one of %s", v, strings.Join(o.Values, ", ")), ""
		}
	case URL:
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q is not an http:// or https:// URL", v), "write e.g. 'https://hooks.example.com/sluice', or 'env:NAME' to read it from the server's environment"
		}
	}
	return "", ""
}

// Canonical returns the allowed value of an Enum that v spells, compared
// without case, or "" when v is none of them.
func (o *Option) Canonical(v string) string {
	for _, a := range o.Values {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			return a
		}
	}
	return ""
}

// Value returns an option of role k as in force for a WITH list (keys in
// lower case): the value written, else the declared default. given is
// false for the default; ok is false when the connector does not declare
// the option.
func (c *Connector) Value(opts map[string]string, name string, k Kind) (v string, given, ok bool) {
	o, ok := c.Option(name, k)
	if !ok {
		return "", false, false
	}
	if v, given := opts[name]; given {
		return strings.TrimSpace(v), true, true
	}
	return o.Default, false, true
}

// ParseCount parses a count the option's Check accepts.
func (o *Option) ParseCount(v string) (int64, error) {
	if msg, _ := o.Check(v); msg != "" {
		return 0, fmt.Errorf("%s %s", o.Name, msg)
	}
	return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
}

// ParseDuration parses a duration the option's Check accepts ('0' is 0
// where the option allows it).
func (o *Option) ParseDuration(v string) (time.Duration, error) {
	if msg, _ := o.Check(v); msg != "" {
		return 0, fmt.Errorf("%s %s", o.Name, msg)
	}
	v = strings.TrimSpace(v)
	if v == "0" {
		return 0, nil
	}
	return time.ParseDuration(v)
}

// The batching options of a continuous sink (Connector.Continuous), read
// by the runtime; a continuous connector lists these two among its
// options.
var (
	ContinuousBatchSize = Option{Name: "batch_size", Type: Count, Default: "8192", Min: 1, Max: 100_000_000, Kinds: []Kind{Sink},
		Doc: "the most rows handed to the sink in one write; rows are written as they are produced and made durable at each checkpoint (the pipeline's `checkpoint_interval`)"}
	ContinuousFlushInterval = Option{Name: "flush_interval", Type: Duration, Default: "0", ZeroOff: true, Kinds: []Kind{Sink},
		Doc: "the longest produced rows wait before they are written; `0` writes them after each input chunk and each watermark step"}
)

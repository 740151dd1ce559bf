package web

import (
	"net/http"

	"github.com/sluice-sql/sluice/connector"
)

// connectorsAnswer is GET /api/v1/connectors: the declarations of the
// connectors the binary registered, for completion and forms.
type connectorsAnswer struct {
	Connectors []connectorJSON `json:"connectors"`
}

type connectorJSON struct {
	Name            string       `json:"name"`
	Kinds           []string     `json:"kinds"`
	Formats         []string     `json:"formats"`
	Doc             string       `json:"doc"`
	PerColumnPrefix string       `json:"per_column_prefix"`
	Options         []optionJSON `json:"options"`
}

type optionJSON struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Default  string   `json:"default"`
	Required bool     `json:"required"`
	Secret   bool     `json:"secret"`
	Doc      string   `json:"doc"`
	Values   []string `json:"values"`
	Kinds    []string `json:"kinds"`
}

func kindNames(ks []connector.Kind) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

func connectorsJSON() connectorsAnswer {
	ans := connectorsAnswer{Connectors: []connectorJSON{}}
	for _, c := range connector.All() {
		cj := connectorJSON{
			Name: c.Name, Kinds: kindNames(c.Kinds), Formats: append([]string{}, c.Formats...),
			Doc: c.Doc, PerColumnPrefix: c.PerColumnPrefix, Options: []optionJSON{},
		}
		for _, o := range c.Options {
			kinds := o.Kinds
			if len(kinds) == 0 {
				kinds = c.Kinds
			}
			cj.Options = append(cj.Options, optionJSON{
				Name: o.Name, Type: string(o.Type), Default: o.Default, Required: o.Required,
				Secret: o.Secret, Doc: o.Doc, Values: append([]string{}, o.Values...), Kinds: kindNames(kinds),
			})
		}
		ans.Connectors = append(ans.Connectors, cj)
	}
	return ans
}

func (h *handler) connectors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, connectorsJSON())
}

package web

import (
	"net/http"

	"github.com/sluice-sql/sluice/planner"
)

// functionsAnswer is GET /api/v1/functions: the planner's function table,
// for the editor's completion.
type functionsAnswer struct {
	Functions []planner.Function `json:"functions"`
}

func (h *handler) functions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, functionsAnswer{Functions: planner.Functions()})
}

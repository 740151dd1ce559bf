package main

import (
	"fmt"
	"io"

	"github.com/sluice-sql/sluice/planner"
)

func explainCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("explain", stderr)
	file := fs.String("f", "", "the SQL script to explain (- for standard input)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	src, err := readScript(*file)
	if err != nil {
		return err
	}
	out, errs := planner.ExplainScript(src, planner.NewMem())
	if len(errs) > 0 {
		fmt.Fprint(stderr, errs.Render(src))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d error(s)", *file, len(errs))}
	}
	fmt.Fprint(stdout, out)
	return nil
}

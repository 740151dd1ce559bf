package main

import (
	"io"
)

func devCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return &exitError{code: 1, msg: "dev: not built yet"}
}

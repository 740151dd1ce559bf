// Command sluice is the Sluice binary: it explains and runs Sluice SQL
// scripts, runs the server (`sluice server`) and talks to it (`sluice
// apply`, `preview`, …), and (as `sluice dev`) starts a zero-setup demo.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `sluice — SQL-driven stream processing

Usage:
  sluice explain -f FILE        print the operator graph of every pipeline and
                                SELECT in FILE; no server or broker needed
  sluice run -f FILE [flags]    create FILE's sources and sinks in memory and
                                run its pipelines in the foreground
  sluice dev                    start the demo: a server with an embedded catalog,
                                an embedded Kafka-protocol broker and demo topics
  sluice server [flags]         run the Sluice server: catalog, HTTP API, pipelines

Against a server (--server URL, default http://localhost:8080; token from
SLUICE_API_TOKEN):
  sluice apply -f FILE|DIR      apply SQL like kubectl apply; prints what changed
  sluice validate -f FILE|DIR   check SQL and print the plans; changes nothing
  sluice pipelines              list pipelines with state and counters
  sluice describe NAME          show a source, sink or pipeline (a running
                                pipeline: its per-operator counters too)
  sluice top                    the pipelines list, refreshed every second
  sluice start|stop|drop NAME   control a pipeline
  sluice preview "SELECT …"     stream a SELECT's rows into the terminal
  sluice help                   this text

Run 'sluice COMMAND -h' for the flags of a command.
`

// exitError carries an exit code through to main; its message is already
// printed when the code is 1 from a rendered SQL error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	err := dispatch(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "sluice:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "sluice:", err)
	os.Exit(1)
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "explain":
		return explainCmd(rest, stdout, stderr)
	case "run":
		return runCmd(rest, stdout, stderr)
	case "dev":
		return devCmd(rest, stdout, stderr)
	case "server":
		return serverCmd(rest, stdout, stderr)
	case "apply":
		return applyCmd(rest, stdout, stderr)
	case "validate":
		return validateCmd(rest, stdout, stderr)
	case "pipelines":
		return pipelinesCmd(rest, stdout, stderr)
	case "describe":
		return describeCmd(rest, stdout, stderr)
	case "top":
		return topCmd(rest, stdout, stderr)
	case "start", "stop", "drop":
		return controlCmd(cmd)(rest, stdout, stderr)
	case "preview":
		return previewCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", cmd)}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning -h and bad flags into exit codes. Flags
// may stand anywhere; no other argument is expected.
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	return nil
}

// parseInterspersed parses flags that stand before, between or after the
// other arguments (`sluice preview "SELECT …" --server URL`), and returns
// those arguments in order. After "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0}
			}
			return nil, &exitError{code: 2}
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		// fs.Parse stopped at an argument that is not a flag.
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// readScript reads the script named by -f; "-" is standard input.
func readScript(path string) (string, error) {
	if path == "" {
		return "", &exitError{code: 2, msg: "-f FILE is required"}
	}
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read script: %w", err)
	}
	return string(b), nil
}

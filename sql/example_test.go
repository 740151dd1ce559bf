package sql

import (
	"os"
	"strings"
)

// readmeExample is the script the README opens with, as shipped in
// examples/orders.sql.
var readmeExample = func() string {
	b, err := os.ReadFile("../examples/orders.sql")
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(b)) + "\n"
}()

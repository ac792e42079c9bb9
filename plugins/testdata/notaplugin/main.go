// Command notaplugin is a program that is not a plugin: it exits at once
// with an error, as a binary uploaded by mistake would.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "notaplugin: nothing to serve")
	os.Exit(3)
}

package cli_test

import (
	"errors"
	"fmt"

	"github.com/partnerhub/partnerhub/internal/cli"
)

// What a script sees: every error of a verb maps to one exit code; a
// server's answer keeps its status and problem.
func ExampleExitCode() {
	for _, err := range []error{
		nil,
		&cli.ProblemError{Status: 404, Title: "Not Found"},
		&cli.ProblemError{Status: 409, Title: "Conflict", Detail: "tenant: already exists"},
		&cli.ProblemError{Status: 401, Title: "Unauthorized"},
		&cli.ProblemError{Status: 503, Title: "Service Unavailable"},
		fmt.Errorf("2 change(s): %w", cli.ErrFailed),
		errors.New("anything else"),
	} {
		fmt.Println(cli.ExitCode(err), err)
	}
	// Output:
	// 0 <nil>
	// 3 404 Not Found
	// 4 409 Conflict: tenant: already exists
	// 5 401 Unauthorized
	// 6 503 Service Unavailable
	// 1 2 change(s): failed
	// 1 anything else
}

package bitscaletest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

// enrichLead is code of the kind a program has: it takes a client, runs a
// grid, and does something with the result.
func enrichLead(ctx context.Context, c *bitscale.Client, name, company string) (string, error) {
	grid, _, err := c.Grids.Get(ctx, "grid_001")
	if err != nil {
		return "", err
	}
	req, err := grid.RunRequest(map[string]any{"Full Name": name, "Company": company}, "Enriched Email")
	if err != nil {
		return "", err
	}
	run, _, err := c.Grids.Run(ctx, grid.ID, req)
	if err != nil {
		return "", err
	}
	email, _ := grid.OutputsByName(run)["Enriched Email"].(string)
	return email, nil
}

// A test of one's own code runs it against the fake, then checks what it
// sent and what the fake did.
func Example() {
	srv := bitscaletest.NewServer()
	defer srv.Close()

	email, err := enrichLead(context.Background(), srv.Client(), "Ada Lovelace", "Analytical Engines")
	fmt.Println(email, err)
	fmt.Println("runs:", len(srv.Runs()), "credits charged:", srv.Runs()[0].Credits)
	// Output:
	// ada.lovelace@analyticalengines.com <nil>
	// runs: 1 credits charged: 12
}

// Faults show how one's code copes when BitScale misbehaves: here the
// connection drops after the run was made, and the code must not run the
// lead again.
func ExampleServer_InjectFault() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	srv.InjectFault(bitscaletest.Fault{
		Method:        "POST",
		Path:          "/api/v1/grids/grid_001/run",
		Kind:          bitscaletest.FaultReset,
		AfterHandling: true, // the run happens; its answer is lost
	})

	_, err := enrichLead(context.Background(), srv.Client(), "Ada Lovelace", "Analytical Engines")
	fmt.Println(errors.Is(err, bitscale.ErrOutcomeUnknown), "runs:", len(srv.Runs()))
	// Output: true runs: 1
}

// Tests set up the data their code expects: a workspace short of credits.
func ExampleServer_SetCredits() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 5); err != nil {
		panic(err)
	}
	_, err := enrichLead(context.Background(), srv.Client(), "Ada Lovelace", "Analytical Engines")
	fmt.Println(errors.Is(err, bitscale.ErrInsufficientCredits))
	// Output: true
}

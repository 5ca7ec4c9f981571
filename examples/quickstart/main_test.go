package main

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestQuickstartOnTheFake(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-input", "Full Name=Ada Lovelace", "-input", "Company=Analytical Engines"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"using the embedded fake BitScale server",
		"Signed in as Jane Doe <jane.doe@company.com>",
		"ws_abc123    Acme Corp — Sales",
		"65800 of 100000 credits left",
		"Full Name        text           input, required",
		"Sync run, 12 credits (65788 left)",
		"Enriched Email   ada.lovelace@analyticalengines.com",
		"is running",
		"is completed",
	} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickstartRefusesBadInputs(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "")
	var out bytes.Buffer
	err := run(context.Background(), []string{"-input", "Nope=1"}, &out)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"Nope" is not a column`)) {
		t.Fatalf("err = %v, want the unknown column named", err)
	}
}

// Flux (helm-controller, kustomize-controller) judges a Sensor's health with
// kstatus. This runs the upstream library, pinned in go.mod, over the same
// Sensor fixtures the Argo CD Lua health check is tested with
// (../testdata/sensor-*.json), and expects each fixture's "kstatus" status.
package kstatus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type fixture struct {
	Description string          `json:"description"`
	Kstatus     string          `json:"kstatus"`
	Object      json.RawMessage `json:"object"`
}

func TestSensorStatus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sensor-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		t.Run(f.Description, func(t *testing.T) {
			// Decoded as client-go decodes API responses: integers stay int64.
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(f.Object); err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Status) != f.Kstatus {
				t.Errorf("kstatus %s, want %s (%s)", res.Status, f.Kstatus, res.Message)
			}
			t.Logf("%s: %s (%s)", f.Description, res.Status, res.Message)
		})
	}
}

package graph_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

func TestNewCredentialChoosesFromEnvironment(t *testing.T) {
	srv := graphtest.New(graphtest.Options{Users: 5, BigGroupSize: 5})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(certFile, srv.ClientCertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("federated"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range ids {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		kind     string
		env      map[string]string
		graphURL string
		wantKind string
		wantErr  string
	}{
		{"secret", "", with(map[string]string{"AZURE_CLIENT_SECRET": "s"}), graph.DefaultGraphURL, graph.CredSecret, ""},
		{"certificate", "", with(map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": certFile}), graph.DefaultGraphURL, graph.CredCertificate, ""},
		{"certificate file missing", "", with(map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": filepath.Join(dir, "nope.pem")}), graph.DefaultGraphURL, graph.CredCertificate, "AZURE_CLIENT_CERTIFICATE_PATH"},
		{"workload identity", "", with(map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile}), graph.DefaultGraphURL, graph.CredWorkload, ""},
		{"managed identity on Azure", "", map[string]string{"IDENTITY_ENDPOINT": "http://169.254.169.254/x", "IDENTITY_HEADER": "h"}, graph.DefaultGraphURL, graph.CredManagedIdentity, ""},
		{"secret without ids", "", map[string]string{"AZURE_CLIENT_SECRET": "s"}, graph.DefaultGraphURL, graph.CredSecret, "AZURE_TENANT_ID, AZURE_CLIENT_ID"},
		{"nothing for Microsoft Graph", "", map[string]string{}, graph.DefaultGraphURL, "", "no Graph credentials"},
		{"nothing for a national cloud", "", map[string]string{}, "https://graph.microsoft.us/v1.0", "", "no Graph credentials"},
		{"nothing for a simulated tenant", "", map[string]string{}, srv.GraphURL(), graph.CredSimulated, ""},
		{"simulated forced on something else", graph.CredSimulated, map[string]string{}, "https://127.0.0.1:1/v1.0", graph.CredSimulated, "did not answer"},
		{"unknown kind", "password", map[string]string{}, graph.DefaultGraphURL, "password", "SIGNOUTBOT_CREDENTIAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, kind, err := graph.NewCredential(context.Background(), graph.CredentialConfig{
				Kind: tt.kind, GraphURL: tt.graphURL, RootCAs: srv.CertPool(),
				Env: func(k string) string { return tt.env[k] },
			})
			if kind != tt.wantKind {
				t.Errorf("kind = %q, want %q", kind, tt.wantKind)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || cred == nil {
				t.Fatalf("NewCredential: %v", err)
			}
		})
	}
}

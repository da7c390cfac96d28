package postgres

import (
	"context"
	"errors"
	"fmt"
)

// Secret returns the secret stored under name, storing fresh first when there is none. Two statements, not one:
// when two replicas insert at once, the second insert waits for the first and does nothing, and only a statement
// started after that (a new snapshot) can read the row the first one committed.
func (d *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("postgres: secret: empty value")
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret %q: %w", name, err)
	}
	var value []byte
	if err := d.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value); err != nil {
		return nil, fmt.Errorf("postgres: secret %q: %w", name, err)
	}
	return value, nil
}

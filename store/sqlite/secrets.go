package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Secret returns the secret stored under name, storing fresh first when there is none (the first one stored
// wins, so every process sharing the file agrees).
func (d *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("sqlite: secret: empty value")
	}
	var value []byte
	err := d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret %q: %w", name, err)
	}
	return value, nil
}

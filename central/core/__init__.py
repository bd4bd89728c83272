"""Pure domain rules of central: order lifecycle, allocation arithmetic, validation, ledger folds."""

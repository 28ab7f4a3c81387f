//! catalog-reloader

"""Text: character corpora (files, folders, downloads, the offline standard library), their
encoding and the windows and streams a language model trains on."""

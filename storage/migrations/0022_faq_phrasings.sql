-- Other ways members ask a saved question (/faq alias): one a line, matched like the question itself.
ALTER TABLE faq_entries ADD COLUMN phrasings TEXT NOT NULL DEFAULT '';

-- messages_sender duplicated what the unique (sender_id, client_msg_id)
-- index already gives (lookups by sender use its prefix), and cost every
-- message one more index insert. (An account export, which pages a sender's
-- messages by id, now sorts each page: a rare request.)
DROP INDEX messages_sender;

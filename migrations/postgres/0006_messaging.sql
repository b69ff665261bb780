-- Messaging features (#17): edits, deletions (tombstones), replies,
-- reactions, message search and blocking.

-- A deleted message keeps its row (id and seq stay, so no gap appears):
-- its body and attachments are emptied and deleted_at is set.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;       -- the message it answers (same conversation)
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
-- Deleting all of a user's messages (account deletion) finds them by sender.
CREATE INDEX messages_sender ON messages(sender_id);

-- One row per (message, emoji, user); the id orders reactions by first use.
CREATE TABLE reactions (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    emoji       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (message_id, emoji, user_id)
);

-- Who blocks whom.
CREATE TABLE blocks (
    blocker_id  BIGINT NOT NULL REFERENCES users(id),
    blocked_id  BIGINT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

-- Full-text search over users' live text messages: a generated tsvector
-- (`simple` configuration: no stemming, no stop words) with a GIN index.
-- Accents are folded by confab_fold, an IMMUTABLE translate() of the
-- accented Latin letters (Latin-1 and Latin Extended-A/B) to their base
-- letter: unlike the `unaccent` extension it needs no superuser and lives
-- in the schema it is created in. The search query goes through it too.
CREATE FUNCTION confab_fold(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(translate(t,
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ',
        'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYy'))
$$;
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    CASE WHEN kind = 'text' AND deleted_at IS NULL THEN to_tsvector('simple', confab_fold(body)) END
) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);

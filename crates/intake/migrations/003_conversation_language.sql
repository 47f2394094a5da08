-- The conversation's language (as the classifier pins it), so that replies sent through intake,
-- such as an agent's, are marked with it for the channel's templates. Empty until classified.
ALTER TABLE intake.conversations ADD COLUMN language TEXT NOT NULL DEFAULT '';

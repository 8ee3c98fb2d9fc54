"""The Mini App: the dean's desk, the teacher's roll and the admin's exams as a Telegram
web app served by the bot itself (aiohttp routes, the initData check, the JSON API; the
static front end lives in `static/`). The API calls the same services as the chat's
buttons, with the same checks: the web is another view of the same data."""

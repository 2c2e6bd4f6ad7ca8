"""The JSON API under ``/api/v1`` (SPEC "HTTP API"): bookings, job events, playbooks, report.

Every route needs ``Authorization: Bearer <token>`` (``forvent token create``).
Routes are plain functions, so FastAPI runs them in its thread pool: the
engine below is synchronous and each service call is one transaction.
Action routes answer 200 with the booking as ``GET`` shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from engine.core import timing
from engine.core.playbooks import Playbook
from engine.exceptions import ConflictError, ForventError, PlaybookError, UserInputError
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.services.importer import CSV_NAMES, JSON_NAMES, ImportRow, RowError, import_rows, read_csv
from engine.services.on_my_way import on_my_way
from engine.services.ready_delay import ReadyDelays
from engine.store import actors
from engine.store.serialise import booking_json, history_json
from engine.store.tables import BookingRow, FindingRow
from engine.store.tokens import verify_token
from engine.web import i18n
from engine.web import models as m
from engine.web.assignments import api_assign_route
from engine.web.calendar import current_invite, method_for
from engine.web.errors import ApiError, validation_error

CUSTOMER_FIELDS = frozenset({"name", "phone", "email", "locale", "marketing_ok"})
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": m.ErrorOut, "description": text}
    for status, text in (
        (400, "Malformed JSON"),
        (401, "No or bad token"),
        (404, "Unknown ref or playbook"),
        (409, "The booking's state refuses the action"),
        (422, "A field fails validation"),
    )
}
ICS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {"schema": {"type": "string"}}}, "description": "iCalendar"}
}
bearer = HTTPBearer(auto_error=False, description="An API token from `forvent token create NAME`.")


def booking_out(session: Session, row: BookingRow) -> dict[str, Any]:
    data = booking_json(session, row, with_messages=True)
    findings = session.scalars(
        select(FindingRow).where(FindingRow.booking_id == row.id).order_by(FindingRow.id)
    )
    data["findings"] = [
        {"id": str(f.id), "text": f.text, "price": f.price, "must_fix": f.must_fix, "decision": f.decision}
        for f in findings
    ]
    return data


def _customer_field(exc: UserInputError) -> UserInputError:
    """The engine names ``phone``; the API body calls it ``customer.phone``."""
    if exc.field in CUSTOMER_FIELDS:
        return UserInputError(exc.message, field=f"customer.{exc.field}")
    return exc


def _booking_input(body: m.BookingFields, playbook: str) -> BookingInput:
    c = body.customer
    return BookingInput(
        ref=body.ref,
        playbook=playbook,
        name=c.name,
        phone=c.phone,
        email=c.email,
        locale=c.locale,
        marketing_ok=c.marketing_ok,
        start=body.start,
        end=body.end,
        timezone=body.timezone,
        location=body.location,
        facts=dict(body.facts),
        assignee=body.assignee,
    )


def playbook_out(pb: Playbook, locale: str) -> dict[str, Any]:
    """``title`` and ``label`` in ``locale`` (the business's), ``titles`` and ``labels`` per listed locale."""
    return {
        "id": pb.playbook,
        "title": pb.title_in(locale),
        "titles": {loc: pb.title_in(loc) for loc in pb.all_locales},
        "default_locale": pb.default_locale,
        "locales": pb.all_locales,
        "timezone": pb.timezone,
        "promise": pb.promise,
        "default_duration": pb.default_duration,
        "channels": list(pb.channels),
        "facts": {k: {"type": f.type, "required": f.required} for k, f in pb.facts.items()},
        "options": [
            {
                "id": o.id,
                "choices": o.choices,
                "label": i18n.option_label(pb, o, locale),
                "labels": {loc: i18n.option_label(pb, o, loc) for loc in pb.all_locales},
            }
            for o in pb.options
        ],
        "steps": [
            {
                "id": s.id,
                "when": s.when,
                "at": s.at,
                "channels": pb.step_channels(s),
                "template": s.template,
                "urgent": s.urgent,
            }
            for s in pb.steps
        ],
    }


class Api:
    """The routes' shared state: the runtime and its booking service."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.service = BookingService(runtime)

    async def authorize(self, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        """The token's name; what the request then does is written as ``token:<name>``."""
        name = await run_in_threadpool(self._token_name, credentials)
        if name is None:
            error = ApiError(401, "unauthorized", "a valid API token is required (Authorization: Bearer ...)")
            error.headers["WWW-Authenticate"] = "Bearer"
            raise error
        actors.set_current(actors.token(name))  # the request's own task: it ends with the request
        return name

    def _token_name(self, credentials: HTTPAuthorizationCredentials | None) -> str | None:
        if credentials is None:
            return None
        with self.rt.database.session() as session:
            return verify_token(session, business_id=self.rt.business.id, token=credentials.credentials)

    def get_row(self, session: Session, ref: str) -> BookingRow:
        if "\x00" in ref:
            raise ApiError(404, "not_found", "unknown booking ref", "ref")
        return self.service.get(session, ref)

    def show(self, ref: str) -> dict[str, Any]:
        with self.rt.database.session() as session:
            return booking_out(session, self.get_row(session, ref))

    def act(self, ref: str, action: Callable[[Session], object]) -> dict[str, Any]:
        """One transaction: lock the booking (404 first), act, answer with the result.

        A refused action (409) carries the booking as it now is, so a client that
        lost a race learns what won it.
        """
        try:
            with self.rt.database.session() as session:
                if "\x00" in ref:
                    raise ApiError(404, "not_found", "unknown booking ref", "ref")
                row = self.service.lock(session, ref)
                action(session)
                return booking_out(session, row)
        except ConflictError as exc:
            with suppress(ForventError):
                exc.current = self.show(ref)
            raise

    def book(self, body: m.BookingIn, response: Response) -> dict[str, Any]:
        try:
            result = self.service.book(_booking_input(body, body.playbook))
        except UserInputError as exc:
            raise _customer_field(exc) from exc
        response.status_code = 201 if result.created else 200
        return {**self.show(result.booking.ref), "created": result.created, "changed": result.changed}

    def import_json(self, raw: bytes, default_playbook: str | None) -> list[ImportRow]:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "malformed", "the body is not valid JSON") from None
        try:
            payload = m.ImportIn.model_validate(data)
        except ValidationError as exc:
            status, body = validation_error(exc.errors())
            raise ApiError(
                status, body["error"]["code"], body["error"]["message"], body["error"]["field"]
            ) from None
        rows = []
        for index, item in enumerate(payload.bookings, start=1):
            playbook = item.playbook or payload.playbook or default_playbook
            if playbook is None:
                rows.append(ImportRow(index, None, RowError(index, "playbook", "playbook: required")))
            else:
                rows.append(ImportRow(index, _booking_input(item, playbook)))
        return rows

    def import_csv(self, raw: bytes, default_playbook: str | None) -> list[ImportRow]:
        if not default_playbook:
            raise UserInputError("playbook: a CSV import needs ?playbook=", field="playbook")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "malformed", "the CSV is not UTF-8") from None
        return read_csv(text, default_playbook)

    def report(self, since: str | None, until: str | None) -> dict[str, Any]:
        try:
            from engine.store import report as metrics
        except ModuleNotFoundError:
            raise ApiError(
                501, "not_implemented", "expectation metrics are not available in this build"
            ) from None
        tz = timing.zone(self.rt.business.timezone)
        end = timing.parse_instant(until, tz, field="until") if until else self.rt.now()
        start = timing.parse_instant(since, tz, field="since") if since else end - metrics.DEFAULT_PERIOD
        playbooks = {pid: pb for pid in self.rt.playbooks.ids() if (pb := self._playbook(pid))}
        with self.rt.database.session() as session:
            self.service.ensure_business(session, self.rt.now())
            result: dict[str, Any] = metrics.report(
                session,
                business_id=self.service.business_id,
                promises={pid: pb.promise for pid, pb in playbooks.items()},
                since=start,
                until=end,
                step_ids={pid: [step.id for step in pb.steps] for pid, pb in playbooks.items()},
                locale=self.rt.business.default_locale,
            )
            return result

    def _playbook(self, playbook_id: str) -> Playbook | None:
        try:
            return self.rt.playbooks.get(playbook_id)
        except PlaybookError:
            return None

    def playbooks(self) -> list[dict[str, Any]]:
        locale = self.rt.business.default_locale
        return [playbook_out(pb, locale) for pid in self.rt.playbooks.ids() if (pb := self._playbook(pid))]


def _query_names(dependant: Any) -> set[str]:
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query(request: Request) -> None:
    """A query parameter the route does not take is a 422: ``?sinse=`` must not silently mean "no since"."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    for name in request.query_params:
        if name not in known:
            raise ApiError(422, "invalid", f"{name[:40]}: unknown query parameter", name[:40])


def _at(body: m.AtIn | None) -> str | None:
    return body.at if body is not None else None


def api_router(runtime: Runtime) -> APIRouter:
    api = Api(runtime)
    router = APIRouter(
        prefix="/api/v1", dependencies=[Depends(api.authorize), Depends(known_query)], responses=ERRORS
    )
    _booking_routes(router, api)
    _event_routes(router, api, api.service)
    _other_routes(router, api)
    api_assign_route(router, api)
    return router


def _booking_routes(router: APIRouter, api: Api) -> None:
    @router.post(
        "/bookings",
        status_code=201,
        response_model=m.BookResultOut,
        responses={200: {"model": m.BookResultOut, "description": "Updated (or unchanged)"}},
        summary="Create (201) or update (200) a booking by ref",
        tags=["bookings"],
    )
    def book(body: m.BookingIn, response: Response) -> dict[str, Any]:
        return api.book(body, response)

    @router.post(
        "/bookings:import",
        response_model=m.ImportOut,
        summary="Bulk create/update, as `forvent import`",
        description=(
            "JSON (`{playbook, bookings: [...]}`, each item the body of POST /bookings) or CSV "
            "(`Content-Type: text/csv`, `?playbook=`; columns as `forvent import`). Good rows are "
            "imported, bad rows reported by line and field; importing again changes nothing."
        ),
        tags=["bookings"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ImportIn"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def import_bookings(
        request: Request, playbook: Annotated[str | None, Query(max_length=100)] = None
    ) -> dict[str, Any]:
        raw = await request.body()
        csv = request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv"
        read = api.import_csv if csv else api.import_json
        rows = await run_in_threadpool(read, raw, playbook)
        names = CSV_NAMES if csv else JSON_NAMES
        report = await run_in_threadpool(lambda: import_rows(api.service, rows, names=names))
        return report.as_json()

    @router.get("/bookings/{ref}", response_model=m.BookingOut, summary="A booking", tags=["bookings"])
    def get_booking(ref: str) -> dict[str, Any]:
        return api.show(ref)

    @router.get(
        "/bookings/{ref}/history", response_model=list[m.HistoryOut], summary="Full record", tags=["bookings"]
    )
    def history(ref: str) -> list[dict[str, Any]]:
        with api.rt.database.session() as session:
            return history_json(session, api.get_row(session, ref))

    @router.get(
        "/bookings/{ref}/invite.ics",
        response_class=Response,
        responses=ICS,
        summary="The current invite (REQUEST; CANCEL once cancelled or no-show)",
        tags=["bookings"],
    )
    def invite(ref: str) -> Response:
        with api.rt.database.session() as session:
            row = api.get_row(session, ref)
            body = current_invite(api.rt, session, row, method_for(row, publish=False))
        return Response(body, media_type="text/calendar; charset=utf-8")


def _event_routes(router: APIRouter, api: Api, svc: BookingService) -> None:
    def route(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return router.post(
            f"/bookings/{{ref}}/{path}", response_model=m.BookingOut, summary=summary, tags=["events"]
        )

    @route("delay", "Running late: {minutes} or {until}, optional reason")
    def delay(ref: str, body: m.DelayIn) -> dict[str, Any]:
        return api.act(
            ref,
            lambda s: svc.delay(
                ref, minutes=body.minutes, until=body.until, reason=body.reason, at=body.at, session=s
            ),
        )

    ready_later = ReadyDelays(api.rt, svc)

    @route("delay-ready", "Ready later (promise: ready): {minutes} or {until}, optional reason")
    def delay_ready(ref: str, body: m.DelayIn) -> dict[str, Any]:
        return api.act(
            ref,
            lambda s: ready_later.delay_ready(
                ref, minutes=body.minutes, until=body.until, reason=body.reason, at=body.at, session=s
            ),
        )

    @route("reschedule", "A newly agreed time")
    def reschedule(ref: str, body: m.RescheduleIn) -> dict[str, Any]:
        return api.act(
            ref, lambda s: svc.reschedule(ref, start=body.start, end=body.end, at=body.at, session=s)
        )

    @route("start", "Job started")
    def start(ref: str, body: m.AtIn | None = None) -> dict[str, Any]:
        return api.act(ref, lambda s: svc.start(ref, at=_at(body), session=s))

    @route("ready", "Job ready, with final price and pick-up time")
    def ready(ref: str, body: m.ReadyIn | None = None) -> dict[str, Any]:
        b = body or m.ReadyIn()
        price = None if b.price is None else str(b.price)
        return api.act(
            ref,
            lambda s: svc.ready(
                ref, price=price, pickup=b.pickup, at=b.at, confirm_price=b.confirm_price, session=s
            ),
        )

    @route("complete", "Job completed")
    def complete(ref: str, body: m.CompleteIn | None = None) -> dict[str, Any]:
        b = body or m.CompleteIn()
        price = None if b.price is None else str(b.price)
        return api.act(
            ref, lambda s: svc.complete(ref, price=price, at=b.at, confirm_price=b.confirm_price, session=s)
        )

    @route("on-my-way", "Staff set off: the staff.on_my_way event, with the expected arrival")
    def on_my_way_route(ref: str, body: m.OnMyWayIn | None = None) -> dict[str, Any]:
        b = body or m.OnMyWayIn()
        return api.act(ref, lambda s: on_my_way(svc, ref, eta=b.eta, at=b.at, session=s))

    @route("no-show", "The customer did not come")
    def no_show(ref: str, body: m.AtIn | None = None) -> dict[str, Any]:
        return api.act(ref, lambda s: svc.no_show(ref, at=_at(body), session=s))

    @route("cancel", "Cancel the booking and every pending message")
    def cancel(ref: str, body: m.CancelIn | None = None) -> dict[str, Any]:
        b = body or m.CancelIn()
        return api.act(ref, lambda s: svc.cancel(ref, reason=b.reason, at=b.at, session=s))

    @route("findings", "Extra work needing the customer's approval")
    def finding(ref: str, body: m.FindingIn) -> dict[str, Any]:
        price = None if body.price is None else str(body.price)
        return api.act(
            ref,
            lambda s: svc.finding(
                ref, text=body.text, price=price, must_fix=body.must_fix, at=body.at, session=s
            ),
        )


def _other_routes(router: APIRouter, api: Api) -> None:
    @router.get("/playbooks", response_model=list[m.PlaybookOut], summary="Playbooks", tags=["playbooks"])
    def playbooks() -> list[dict[str, Any]]:
        return api.playbooks()

    @router.post(
        "/playbooks/{playbook_id}/preview",
        response_model=list[m.PreviewRowOut],
        summary="Dry run of one booking, as `forvent preview`",
        tags=["playbooks"],
    )
    def preview(playbook_id: str, body: m.PreviewIn) -> list[dict[str, Any]]:
        from engine.web.previews import run_preview

        return run_preview(api.rt, playbook_id, body)

    @router.get(
        "/report",
        response_model=m.ReportOut,
        responses={501: {"model": m.ErrorOut, "description": "Not available in this build"}},
        summary="Expectation metrics, as `forvent report`",
        tags=["report"],
    )
    def report(
        since: Annotated[str | None, Query(max_length=64)] = None,
        until: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        return api.report(since, until)

"""/api/teacher: exchange the teacher secret for a server-side session cookie, and end it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ...service.tokens import TEACHER_SESSION_SECONDS
from ..auth import TEACHER_COOKIE, set_client_cookie
from ..deps import ClassroomDep, TeacherDep

router = APIRouter(prefix="/teacher", tags=["classroom"])


@router.post("/login", summary="Exchange the teacher secret (Bearer) for a teacher cookie")
def teacher_login(request: Request, response: Response, teacher: TeacherDep, room: ClassroomDep) -> dict:
    # a server-side session: logout or a new teacher secret ends it, whatever the browser keeps
    response.set_cookie(
        TEACHER_COOKIE, room.new_teacher_session(), max_age=TEACHER_SESSION_SECONDS, httponly=True, samesite="strict"
    )
    set_client_cookie(request, response)
    return {"teacher": teacher.teacher}


@router.post("/logout", summary="End the teacher session (its cookie stops working everywhere)")
def teacher_logout(request: Request, response: Response, room: ClassroomDep) -> dict:
    room.end_teacher_session(request.cookies.get(TEACHER_COOKIE))
    response.delete_cookie(TEACHER_COOKIE)
    return {"teacher": False}

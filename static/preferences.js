// The preference page, enhanced. Saves through the JSON API with the page's token as a
// bearer credential (never a cookie), sending only what the person changed, then shows
// the page as the server renders it now — in the language just chosen — without a
// reload, and announces the save in a live region (every time, the second too).
// "Unsubscribe from all" greys the topics out at once. Without JavaScript every form
// posts as it is and the server answers with the same page.
"use strict";
(function () {
  if (!window.fetch || !window.DOMParser) return;
  var token = decodeURIComponent(location.pathname.split("/").pop());
  var status = document.getElementById("status");
  var quiet = null;

  function put(body) {
    return fetch("/v1/preferences", {
      method: "PUT",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    });
  }

  // Emptied first, then filled: a screen reader announces the same words again.
  function announce(text) {
    if (!status) return;
    clearTimeout(quiet);
    status.textContent = "";
    setTimeout(function () {
      status.textContent = text;
      quiet = setTimeout(function () { status.textContent = ""; }, 6000);
    }, 150);
  }

  // The page as the server renders it now, in place of this one; focus goes back to
  // the control with `focusId`.
  function refresh(focusId) {
    return fetch(location.pathname, { credentials: "omit", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        document.documentElement.lang = next.documentElement.lang;
        document.title = next.title;
        ["header", "#card", "footer"].forEach(function (selector) {
          var old = document.querySelector(selector);
          var fresh = next.querySelector(selector);
          if (old && fresh) old.replaceWith(document.importNode(fresh, true));
        });
        enhance();
        var focus = focusId && document.getElementById(focusId);
        if (focus) focus.focus();
        var form = document.getElementById("preferences");
        announce(form ? form.getAttribute("data-saved") : "");
      });
  }

  // When a pause of `length` starting now ends: a week, or calendar months (the last
  // day of a shorter month), as the server counts them.
  function pauseEnd(length) {
    var end = new Date();
    if (length === "week") {
      end.setUTCDate(end.getUTCDate() + 7);
    } else {
      var day = end.getUTCDate();
      end.setUTCMonth(end.getUTCMonth() + (length === "month" ? 1 : 3));
      if (end.getUTCDate() !== day) end.setUTCDate(0);
    }
    return end.toISOString();
  }

  function enhance() {
    var form = document.getElementById("preferences");
    if (!form) return;
    var all = document.getElementById("unsubscribed_all");
    var locale = document.getElementById("locale");
    var list = form.querySelector(".topics");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[data-topic]"));
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.disabled = all.checked; });
      if (list) list.classList.toggle("off", all.checked);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      var topics = {};
      boxes.forEach(function (box) {
        if (!box.disabled && box.checked !== box.defaultChecked) topics[box.getAttribute("data-topic")] = box.checked;
      });
      if (Object.keys(topics).length) body.topics = topics;
      if (all.checked !== all.defaultChecked) body.unsubscribed_all = all.checked;
      var chosen = Array.prototype.filter.call(locale.options, function (o) { return o.defaultSelected; })[0];
      if (!chosen || chosen.value !== locale.value) body.locale = locale.value;
      var focused = document.activeElement && document.activeElement.id;
      var saved = Object.keys(body).length ? put(body) : Promise.resolve();
      saved.then(function () { return refresh(focused || "save"); }).catch(function () { form.submit(); });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".pause-form"), function (pause) {
      pause.addEventListener("submit", function (event) {
        event.preventDefault();
        var length = event.submitter ? event.submitter.value : "resume";
        var until = length === "resume" ? null : pauseEnd(length);
        put({ paused_until: until })
          .then(function () { return refresh(length === "resume" ? "pause-week" : "resume"); })
          .catch(function () {
            var field = document.createElement("input");
            field.type = "hidden";
            field.name = "pause";
            field.value = length;
            pause.appendChild(field);
            pause.submit();
          });
      });
    });
    var download = document.getElementById("download");
    if (download) {
      download.hidden = false;
      download.addEventListener("click", function () {
        fetch("/v1/preferences/export", { headers: { "Authorization": "Bearer " + token }, credentials: "omit" })
          .then(function (response) { if (!response.ok) throw new Error(response.status); return response.blob(); })
          .then(function (blob) {
            var link = document.createElement("a");
            link.href = URL.createObjectURL(blob);
            link.download = "my-email-preferences.json";
            document.body.appendChild(link);
            link.click();
            link.remove();
          });
      });
    }
  }

  enhance();
})();

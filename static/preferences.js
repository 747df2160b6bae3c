// The preference page, enhanced: saves through the JSON API with the page's token as a
// bearer credential (never a cookie), without reloading. Without JavaScript the form
// posts as it is and the server answers with the same page.
"use strict";
(function () {
  var form = document.getElementById("preferences");
  if (!form || !window.fetch) return;
  var token = decodeURIComponent(location.pathname.split("/").pop());
  var saved = document.querySelector(".saved");
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
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var topics = {};
    form.querySelectorAll("input[data-topic]:not([disabled])").forEach(function (box) {
      topics[box.getAttribute("data-topic")] = box.checked;
    });
    var body = {
      topics: topics,
      unsubscribed_all: document.getElementById("unsubscribed_all").checked,
      locale: document.getElementById("locale").value
    };
    fetch("/v1/preferences", {
      method: "PUT",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    }).then(function (state) {
      state.topics.forEach(function (topic) {
        var box = form.querySelector('input[data-topic="' + topic.key + '"]');
        if (box) box.checked = topic.subscribed;
      });
      document.getElementById("unsubscribed_all").checked = state.unsubscribed_all;
      saved.hidden = false;
    }).catch(function () {
      form.submit();
    });
  });
})();

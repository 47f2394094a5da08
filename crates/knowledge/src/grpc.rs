//! The thin tonic adapter over [`Knowledge`]. Every call acts on its caller's tenant (the token's,
//! which the auth layer put in the request); requests name no tenant.

use std::sync::Arc;

use switchboard_auth::Caller;
use switchboard_proto::{
    events::v1::DeflectionResult,
    knowledge::v1::{
        AnswerRequest, AnswerResponse, ArchiveArticleRequest, ArchiveArticleResponse, Article, AssistRequest,
        AssistResponse, DeflectRequest, DeflectResponse, DeflectionOutcome, GetArticleRequest,
        ListArticlesRequest, ListArticlesResponse, ListVersionsRequest, ListVersionsResponse,
        PublishArticleRequest, RecordDeflectionRequest, RecordDeflectionResponse, SaveDraftRequest,
        SearchRequest, SearchResponse, SuggestRequest, SuggestResponse, UnpublishArticleRequest,
        knowledge_server,
    },
    to_status,
};
use tonic::{Request, Response, Status};

use crate::article::Content;
use crate::domain::{Error, Knowledge};
use crate::search::SearchQuery;

pub struct KnowledgeApi {
    knowledge: Arc<Knowledge>,
}

impl KnowledgeApi {
    pub(crate) fn new(knowledge: Arc<Knowledge>) -> Self {
        Self { knowledge }
    }

    /// The article after a command, once the reads show it when `wait` asks so.
    async fn settle(
        &self,
        result: Result<(Article, u64), Error>,
        wait: bool,
    ) -> Result<Response<Article>, Status> {
        let (article, sequence) = result.map_err(|e| to_status(&e))?;
        if wait {
            self.knowledge.catch_up(sequence).await.map_err(|e| to_status(&e))?;
        }
        Ok(Response::new(article))
    }
}

fn status(error: Error) -> Status {
    to_status(&error)
}

/// The caller's tenant and the request's message.
fn tenant_and<T>(request: Request<T>) -> Result<(String, T), Status> {
    let tenant = Caller::of(&request)?.tenant;
    Ok((tenant, request.into_inner()))
}

#[tonic::async_trait]
impl knowledge_server::Knowledge for KnowledgeApi {
    async fn save_draft(&self, request: Request<SaveDraftRequest>) -> Result<Response<Article>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let content = Content {
            title: r.title,
            body: r.body,
            locale: r.locale,
            tags: r.tags,
            product_area: r.product_area,
            example_questions: r.example_questions,
            translation_of: r.translation_of,
        };
        self.settle(self.knowledge.save_draft(&tenant, &r.article_id, content).await, r.wait).await
    }

    async fn publish_article(
        &self,
        request: Request<PublishArticleRequest>,
    ) -> Result<Response<Article>, Status> {
        let (tenant, r) = tenant_and(request)?;
        if r.draft_version > 0 {
            let has_content = !(r.title.is_empty()
                && r.body.is_empty()
                && r.tags.is_empty()
                && r.example_questions.is_empty()
                && r.product_area.is_empty()
                && r.translation_of.is_empty());
            if has_content || r.article_id.is_empty() {
                let message = "draft_version publishes a saved draft of article_id as it is: give no content";
                return Err(Status::invalid_argument(message));
            }
            return self
                .settle(self.knowledge.publish_draft(&tenant, &r.article_id, r.draft_version).await, r.wait)
                .await;
        }
        let content = Content {
            title: r.title,
            body: r.body,
            locale: r.locale,
            tags: r.tags,
            product_area: r.product_area,
            example_questions: r.example_questions,
            translation_of: r.translation_of,
        };
        self.settle(self.knowledge.publish(&tenant, &r.article_id, content).await, r.wait).await
    }

    async fn unpublish_article(
        &self,
        request: Request<UnpublishArticleRequest>,
    ) -> Result<Response<Article>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let sequence = self.knowledge.unpublish(&tenant, &r.article_id).await.map_err(status)?;
        if r.wait {
            self.knowledge.catch_up(sequence).await.map_err(status)?;
        }
        let article = self.knowledge.article(&tenant, &r.article_id, 0).await.map_err(status)?;
        Ok(Response::new(article))
    }

    async fn archive_article(
        &self,
        request: Request<ArchiveArticleRequest>,
    ) -> Result<Response<ArchiveArticleResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        self.knowledge.archive(&tenant, &r.article_id).await.map_err(status)?;
        Ok(Response::new(ArchiveArticleResponse {}))
    }

    async fn get_article(&self, request: Request<GetArticleRequest>) -> Result<Response<Article>, Status> {
        let (tenant, r) = tenant_and(request)?;
        Ok(Response::new(self.knowledge.article(&tenant, &r.article_id, r.version).await.map_err(status)?))
    }

    async fn list_versions(
        &self,
        request: Request<ListVersionsRequest>,
    ) -> Result<Response<ListVersionsResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let versions = self.knowledge.versions(&tenant, &r.article_id).await.map_err(status)?;
        Ok(Response::new(ListVersionsResponse { versions }))
    }

    async fn list_articles(
        &self,
        request: Request<ListArticlesRequest>,
    ) -> Result<Response<ListArticlesResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let (articles, next) =
            self.knowledge.list(&tenant, &r.after, r.limit, r.include_archived).await.map_err(status)?;
        Ok(Response::new(ListArticlesResponse { articles, next }))
    }

    async fn search(&self, request: Request<SearchRequest>) -> Result<Response<SearchResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let query = SearchQuery {
            query: r.query,
            locale: r.locale,
            tags: r.tags,
            product_area: r.product_area,
            limit: r.limit,
            customer_id: r.customer_id,
        };
        let (hits, query_id) = self.knowledge.search(&tenant, query).await.map_err(status)?;
        Ok(Response::new(SearchResponse { hits, query_id }))
    }

    async fn suggest(&self, request: Request<SuggestRequest>) -> Result<Response<SuggestResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let (suggestions, query_id) =
            self.knowledge.suggest(&tenant, &r.prefix, &r.locale, r.limit).await.map_err(status)?;
        Ok(Response::new(SuggestResponse { suggestions, query_id }))
    }

    async fn deflect(&self, request: Request<DeflectRequest>) -> Result<Response<DeflectResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let (articles, confident, deflection_id) = self
            .knowledge
            .deflect(&tenant, &r.text, &r.locale, r.limit, &r.customer_id)
            .await
            .map_err(status)?;
        Ok(Response::new(DeflectResponse { deflection_id, articles, confident }))
    }

    async fn record_deflection(
        &self,
        request: Request<RecordDeflectionRequest>,
    ) -> Result<Response<RecordDeflectionResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let result = match r.outcome() {
            DeflectionOutcome::Helped => DeflectionResult::Helped,
            DeflectionOutcome::TicketOpened => DeflectionResult::TicketOpened,
            DeflectionOutcome::Unspecified => DeflectionResult::Unspecified,
        };
        self.knowledge
            .record_deflection(&tenant, &r.deflection_id, result, &r.article_id, &r.ticket_id)
            .await
            .map_err(status)?;
        Ok(Response::new(RecordDeflectionResponse {}))
    }

    async fn answer(&self, request: Request<AnswerRequest>) -> Result<Response<AnswerResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let answer = self
            .knowledge
            .answer(
                &tenant,
                &crate::queries::AnswerAsked {
                    question: &r.question,
                    locale: &r.locale,
                    conversation_id: &r.conversation_id,
                    min_confidence: r.min_confidence,
                    max_alternatives: r.max_alternatives,
                    intent: &r.intent,
                    other_locales: &r.other_locales,
                    request_key: &r.request_key,
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(answer))
    }

    async fn assist(&self, request: Request<AssistRequest>) -> Result<Response<AssistResponse>, Status> {
        let (tenant, r) = tenant_and(request)?;
        let (hits, query_id) = self
            .knowledge
            .assist(&tenant, &r.messages, &r.locale, r.limit, &r.conversation_id)
            .await
            .map_err(status)?;
        Ok(Response::new(AssistResponse { hits, query_id }))
    }
}

//! The thin tonic adapter over [`Knowledge`].

use std::sync::Arc;

use switchboard_proto::{
    knowledge::v1::{
        ArchiveArticleRequest, ArchiveArticleResponse, Article, GetArticleRequest, ListArticlesRequest,
        ListArticlesResponse, PublishArticleRequest, SearchRequest, SearchResponse, SuggestRequest,
        SuggestResponse, knowledge_server,
    },
    to_status,
};
use tonic::{Request, Response, Status};

use crate::domain::{Draft, Knowledge};

pub struct KnowledgeApi {
    knowledge: Arc<Knowledge>,
}

impl KnowledgeApi {
    pub(crate) fn new(knowledge: Arc<Knowledge>) -> Self {
        Self { knowledge }
    }
}

#[tonic::async_trait]
impl knowledge_server::Knowledge for KnowledgeApi {
    async fn publish_article(
        &self,
        request: Request<PublishArticleRequest>,
    ) -> Result<Response<Article>, Status> {
        let request = request.into_inner();
        let draft = Draft {
            article_id: request.article_id,
            title: request.title,
            body: request.body,
            locale: request.locale,
            tags: request.tags,
        };
        let (article, sequence) = self.knowledge.publish(draft).await.map_err(|e| to_status(&e))?;
        if request.wait {
            self.knowledge.catch_up(sequence).await.map_err(|e| to_status(&e))?;
        }
        Ok(Response::new(article))
    }

    async fn get_article(&self, request: Request<GetArticleRequest>) -> Result<Response<Article>, Status> {
        let id = request.into_inner().article_id;
        let article = self.knowledge.article(&id).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(article))
    }

    async fn list_articles(
        &self,
        request: Request<ListArticlesRequest>,
    ) -> Result<Response<ListArticlesResponse>, Status> {
        let request = request.into_inner();
        let (articles, next) = self
            .knowledge
            .list(&request.after, request.limit, request.include_archived)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(ListArticlesResponse { articles, next }))
    }

    async fn archive_article(
        &self,
        request: Request<ArchiveArticleRequest>,
    ) -> Result<Response<ArchiveArticleResponse>, Status> {
        let id = request.into_inner().article_id;
        self.knowledge.archive(&id).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(ArchiveArticleResponse {}))
    }

    async fn search(&self, request: Request<SearchRequest>) -> Result<Response<SearchResponse>, Status> {
        let request = request.into_inner();
        let hits = self
            .knowledge
            .search(&request.query, &request.locale, request.limit)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(SearchResponse { hits }))
    }

    async fn suggest(&self, request: Request<SuggestRequest>) -> Result<Response<SuggestResponse>, Status> {
        let request = request.into_inner();
        let suggestions = self
            .knowledge
            .suggest(&request.prefix, &request.locale, request.limit)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(SuggestResponse { suggestions }))
    }
}
